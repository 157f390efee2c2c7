//! Decoding structured CloudEvents from producers that bend the spec — XZepr writes
//! `"specversion": "1.0.1"` and extension attributes with underscores (`api_version`,
//! `platform_id`) — by normalising the document first and saying what was normalised. The
//! encoder and the default decoder stay strict.

use serde_json::{Map, Value};

use super::{Record, attribute_name_problem, decode, envelope_of};
use crate::{Envelope, Error, Result};

/// One thing [`decode_lenient`] changed to make a document a CloudEvent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Normalised {
    /// A `1.0.x` specversion, read as `1.0`.
    SpecVersion {
        /// As the producer wrote it.
        given: String,
    },
    /// An attribute name outside `[a-z0-9]`, renamed: lower case, other characters dropped.
    AttributeName {
        /// As the producer wrote it (`api_version`).
        given: String,
        /// As decoded (`apiversion`).
        now: String,
    },
}

/// What [`decode_lenient`] read, and what it had to change to read it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Lenient {
    /// The event.
    pub envelope: Envelope,
    /// The changes, by attribute name; empty for a document that was valid.
    pub normalised: Vec<Normalised>,
}

/// Decodes `record` like [`decode`], but accepts a structured JSON document (with or without
/// the structured content type) whose specversion is `1.0.x` or whose attribute names break
/// the naming rule, and reports each change. Anything else wrong is still an error.
pub fn decode_lenient(record: &Record) -> Result<Lenient> {
    // A binary-mode record is read strictly, whatever its value holds (a payload may itself be
    // a JSON document with a `specversion`).
    let binary = record.header("ce_specversion").is_some();
    let document = match serde_json::from_slice::<Value>(&record.value) {
        Ok(Value::Object(document)) if !binary && document.contains_key("specversion") => document,
        _ => {
            return Ok(Lenient {
                envelope: decode(record)?,
                normalised: Vec::new(),
            });
        }
    };
    let mut normalised = Vec::new();
    let document = normalise(document, &mut normalised)?;
    let event: cloudevents::Event = serde_json::from_value(Value::Object(document))
        .map_err(|e| Error::MalformedEvent(format!("not a CloudEvents JSON document: {e}")))?;
    Ok(Lenient {
        envelope: envelope_of(event, record)?,
        normalised,
    })
}

/// Members of the JSON format that are not attributes, whose names the rule does not govern.
const FORMAT_MEMBERS: [&str; 2] = ["data", "data_base64"];

fn normalise(
    document: Map<String, Value>,
    changes: &mut Vec<Normalised>,
) -> Result<Map<String, Value>> {
    // By name, so that the changes come in one order whether or not serde_json keeps the
    // document's (its `preserve_order` feature).
    let mut entries: Vec<(String, Value)> = document.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Map::new();
    for (name, mut value) in entries {
        if name == "specversion" {
            value = spec_version(value, changes)?;
        }
        // The JSON format's own members are not attributes: `data_base64` keeps its name.
        let name = match attribute_name_problem(&name) {
            Some(_) if !FORMAT_MEMBERS.contains(&name.as_str()) => renamed(name, &out, changes)?,
            _ => name,
        };
        if out.insert(name.clone(), value).is_some() {
            return Err(Error::MalformedEvent(format!(
                "attribute {name:?} is given twice once names are normalised"
            )));
        }
    }
    Ok(out)
}

fn spec_version(value: Value, changes: &mut Vec<Normalised>) -> Result<Value> {
    match value.as_str() {
        Some("1.0") => Ok(value),
        Some(given) if given.starts_with("1.0.") => {
            changes.push(Normalised::SpecVersion {
                given: given.to_owned(),
            });
            Ok(Value::String("1.0".to_owned()))
        }
        _ => Err(Error::MalformedEvent(format!(
            "specversion {value} is not 1.0 or 1.0.x, even read leniently"
        ))),
    }
}

fn renamed(
    given: String,
    seen: &Map<String, Value>,
    changes: &mut Vec<Normalised>,
) -> Result<String> {
    let now: String = given
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if now.is_empty() || seen.contains_key(&now) {
        return Err(Error::MalformedEvent(format!(
            "attribute {given:?} cannot be renamed to a valid name (it would be {now:?})"
        )));
    }
    changes.push(Normalised::AttributeName {
        given,
        now: now.clone(),
    });
    Ok(now)
}
