//! The CloudEvents 1.0 codec for the Kafka protocol binding.
//!
//! *Binary content mode* (the default) puts the attributes in `ce_*` headers, the media type in
//! `content-type` and the data, untouched, in the record value. *Structured content mode* sends one
//! JSON document (`application/cloudevents+json`) holding attributes and data; it is built on the
//! official `cloudevents-sdk` event model so that the JSON format follows the spec to the letter.
//! In both modes the partition key is the record key.
//!
//! [`decode`] tells the modes apart by the `content-type` header, as the binding prescribes.

use std::{collections::BTreeMap, str};

use chrono::{DateTime, SecondsFormat, Utc};
use cloudevents::{AttributesReader, Data, EventBuilder, EventBuilderV10, event::SpecVersion};

use crate::{Envelope, Error, ExtensionValue, MessageId, Result};

mod lenient;

pub use lenient::{Lenient, Normalised, decode_lenient};

/// Media type of a structured-mode record.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json; charset=UTF-8";
/// Prefix of the headers that carry attributes in binary mode.
pub const HEADER_PREFIX: &str = "ce_";
/// Header that carries `datacontenttype` in binary mode.
pub const CONTENT_TYPE_HEADER: &str = "content-type";
/// Media type assumed for binary-mode data that comes without a `content-type` header.
const UNKNOWN_CONTENT_TYPE: &str = "application/octet-stream";

/// How events are laid out on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ContentMode {
    /// Attributes in headers, data as the value.
    #[default]
    Binary,
    /// One JSON document with attributes and data.
    Structured,
}

/// A broker record: what a Kafka producer sends and a consumer receives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// Topic of the record.
    pub topic: String,
    /// Record key (the partition key).
    pub key: Option<Vec<u8>>,
    /// Record headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Record value.
    pub value: Vec<u8>,
}

impl Record {
    /// The bytes a broker counts against its message size limit: value, key, and every
    /// header's name and value.
    pub fn size(&self) -> usize {
        self.value.len()
            + self.key.as_ref().map_or(0, Vec::len)
            + self
                .headers
                .iter()
                .map(|(name, value)| name.len() + value.len())
                .sum::<usize>()
    }

    /// The first header called `name` (header names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// Encodes `envelope` as a record in `mode`.
pub fn encode(envelope: &Envelope, mode: ContentMode) -> Result<Record> {
    match mode {
        ContentMode::Binary => Ok(encode_binary(envelope)),
        ContentMode::Structured => encode_structured(envelope),
    }
}

/// Decodes a record in either mode. A record that is not a valid CloudEvent is an
/// [`Error::MalformedEvent`] that says what is wrong.
pub fn decode(record: &Record) -> Result<Envelope> {
    let structured = record
        .header(CONTENT_TYPE_HEADER)
        .and_then(|v| str::from_utf8(v).ok())
        .is_some_and(|ct| ct.trim_start().starts_with("application/cloudevents"));
    if structured {
        decode_structured(record)
    } else {
        decode_binary(record)
    }
}

fn time_text(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Binary content mode: `ce_*` headers, `content-type`, data as the value.
pub fn encode_binary(envelope: &Envelope) -> Record {
    let mut headers: Vec<(String, Vec<u8>)> = Vec::with_capacity(10 + envelope.extensions.len());
    let mut put = |name: &str, value: String| headers.push((name.to_owned(), value.into_bytes()));
    put("ce_specversion", "1.0".to_owned());
    put("ce_id", envelope.id.to_string());
    put("ce_source", envelope.source.clone());
    put("ce_type", envelope.message_type.clone());
    put("ce_time", time_text(&envelope.time));
    put(CONTENT_TYPE_HEADER, envelope.content_type.clone());
    put("ce_partitionkey", envelope.key.clone());
    let optional = [
        ("ce_subject", &envelope.subject),
        ("ce_dataschema", &envelope.data_schema),
        ("ce_correlationid", &envelope.correlation_id),
        ("ce_causationid", &envelope.causation_id),
        ("ce_traceparent", &envelope.traceparent),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            put(name, value.clone());
        }
    }
    for (name, value) in &envelope.extensions {
        put(&format!("{HEADER_PREFIX}{name}"), value.to_string());
    }
    Record {
        topic: envelope.topic.clone(),
        key: Some(envelope.key.clone().into_bytes()),
        headers,
        value: envelope.payload.clone(),
    }
}

/// Decodes a binary-mode record.
pub fn decode_binary(record: &Record) -> Result<Envelope> {
    let mut attributes: BTreeMap<String, String> = BTreeMap::new();
    let mut content_type = None;
    for (name, value) in &record.headers {
        let lower = name.to_ascii_lowercase();
        let text = || {
            str::from_utf8(value)
                .map(str::to_owned)
                .map_err(|_| Error::MalformedEvent(format!("header {name} is not UTF-8")))
        };
        if lower == CONTENT_TYPE_HEADER {
            content_type = Some(text()?);
        } else if let Some(attribute) = lower.strip_prefix(HEADER_PREFIX) {
            attributes.insert(attribute.to_owned(), text()?);
        }
    }
    match attributes.remove("specversion").as_deref() {
        Some("1.0") => {}
        Some(other) => {
            return Err(Error::MalformedEvent(format!(
                "unsupported specversion {other:?} (expected \"1.0\")"
            )));
        }
        None => {
            return Err(Error::MalformedEvent(
                "no ce_specversion header: not a binary-mode CloudEvent".to_owned(),
            ));
        }
    }
    let mut required = |name: &str| {
        attributes
            .remove(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::MalformedEvent(format!("required attribute {name} is missing")))
    };
    let id = required("id")?;
    let source = required("source")?;
    let message_type = required("type")?;
    let time = match attributes.remove("time") {
        Some(text) => parse_time(&text)?,
        None => Utc::now(),
    };
    let key = attributes
        .remove("partitionkey")
        .or_else(|| record_key(record))
        .unwrap_or_else(|| id.clone());
    Ok(Envelope {
        id: MessageId::from(id),
        topic: record.topic.clone(),
        key,
        message_type,
        source,
        time,
        subject: attributes.remove("subject"),
        data_schema: attributes.remove("dataschema"),
        content_type: content_type.unwrap_or_else(|| UNKNOWN_CONTENT_TYPE.to_owned()),
        correlation_id: attributes.remove("correlationid"),
        causation_id: attributes.remove("causationid"),
        traceparent: attributes.remove("traceparent"),
        extensions: attributes
            .into_iter()
            .map(|(k, v)| (k, ExtensionValue::String(v)))
            .collect(),
        payload: record.value.clone(),
    })
}

fn record_key(record: &Record) -> Option<String> {
    record
        .key
        .as_deref()
        .and_then(|k| str::from_utf8(k).ok())
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
}

fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::MalformedEvent(format!("time {text:?} is not RFC 3339: {e}")))
}

/// Whether `content_type` is JSON: `application/json`, `text/json` or a `+json` suffix.
pub(crate) fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}

/// Media types whose data the JSON format carries as a string rather than base64.
fn is_text(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.starts_with("text/") || essence.ends_with("/xml") || essence.ends_with("+xml")
}

/// Structured content mode: one JSON document per the CloudEvents JSON event format.
pub fn encode_structured(envelope: &Envelope) -> Result<Record> {
    let invalid = |e: &dyn std::fmt::Display| {
        Error::InvalidMessage(format!(
            "cannot express event {} as a CloudEvent: {e}",
            envelope.id
        ))
    };
    let data = if is_json(&envelope.content_type) {
        // JSON data is embedded as JSON; anything that does not parse goes as base64 so that
        // no byte is lost.
        serde_json::from_slice(&envelope.payload)
            .map(Data::Json)
            .unwrap_or_else(|_| Data::Binary(envelope.payload.clone()))
    } else if is_text(&envelope.content_type) {
        match String::from_utf8(envelope.payload.clone()) {
            Ok(text) => Data::String(text),
            Err(e) => Data::Binary(e.into_bytes()),
        }
    } else {
        Data::Binary(envelope.payload.clone())
    };
    let mut builder = EventBuilderV10::new()
        .id(envelope.id.as_str())
        .source(envelope.source.as_str())
        .ty(envelope.message_type.as_str())
        .time(envelope.time)
        .extension("partitionkey", envelope.key.as_str());
    builder = match &envelope.data_schema {
        Some(schema) => {
            builder.data_with_schema(envelope.content_type.as_str(), schema.as_str(), data)
        }
        None => builder.data(envelope.content_type.as_str(), data),
    };
    if let Some(subject) = &envelope.subject {
        builder = builder.subject(subject.as_str());
    }
    for (name, value) in [
        ("correlationid", &envelope.correlation_id),
        ("causationid", &envelope.causation_id),
        ("traceparent", &envelope.traceparent),
    ] {
        if let Some(value) = value {
            builder = builder.extension(name, value.as_str());
        }
    }
    for (name, value) in &envelope.extensions {
        builder = match value {
            ExtensionValue::String(s) => builder.extension(name, s.as_str()),
            ExtensionValue::Integer(i) => builder.extension(name, *i),
            ExtensionValue::Boolean(b) => builder.extension(name, *b),
        };
    }
    let event = builder.build().map_err(|e| invalid(&e))?;
    let value = serde_json::to_vec(&event).map_err(|e| invalid(&e))?;
    Ok(Record {
        topic: envelope.topic.clone(),
        key: Some(envelope.key.clone().into_bytes()),
        headers: vec![(
            CONTENT_TYPE_HEADER.to_owned(),
            STRUCTURED_CONTENT_TYPE.as_bytes().to_vec(),
        )],
        value,
    })
}

/// Decodes a structured-mode record, strictly: a document that breaks a rule of CloudEvents 1.0
/// is an [`Error::MalformedEvent`] that names the rule (see [`decode_lenient`] for documents of
/// producers that bend them).
pub fn decode_structured(record: &Record) -> Result<Envelope> {
    let event: cloudevents::Event = match serde_json::from_slice(&record.value) {
        Ok(event) => event,
        Err(e) => return Err(diagnose(&record.value, &e)),
    };
    if event.specversion() != SpecVersion::V10 {
        return Err(Error::MalformedEvent(format!(
            "unsupported specversion {:?} (expected \"1.0\")",
            event.specversion().as_str()
        )));
    }
    if let Some((name, problem)) = event
        .iter_extensions()
        .find_map(|(name, _)| Some((name, attribute_name_problem(name)?)))
    {
        return Err(Error::MalformedEvent(format!(
            "extension attribute {name:?} {problem}"
        )));
    }
    envelope_of(event, record)
}

/// The CloudEvents rule for attribute names, broken by `name` if it is.
fn attribute_name_problem(name: &str) -> Option<&'static str> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (!valid).then_some(
        "breaks the CloudEvents naming rule: attribute names are lower-case ASCII letters \
         and digits only",
    )
}

/// Why a document the SDK refused is not a CloudEvent: the rule it breaks when one can be
/// named, else the parser's reason.
fn diagnose(value: &[u8], parse_error: &serde_json::Error) -> Error {
    let document: Option<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(value).ok();
    let version = document
        .as_ref()
        .and_then(|d| d.get("specversion"))
        .and_then(serde_json::Value::as_str);
    match version {
        Some(version) if version != "1.0" => Error::MalformedEvent(format!(
            "specversion {version:?} breaks the CloudEvents 1.0 rule: its specversion is \"1.0\" \
             exactly (cloudevents::decode_lenient accepts \"1.0.x\")"
        )),
        _ => Error::MalformedEvent(format!("not a CloudEvents JSON document: {parse_error}")),
    }
}

/// The envelope of a parsed structured-mode `event` that came in `record`.
fn envelope_of(mut event: cloudevents::Event, record: &Record) -> Result<Envelope> {
    let mut extensions = BTreeMap::new();
    let take = |name: &str| match event.extension(name) {
        Some(cloudevents::event::ExtensionValue::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
        None => None,
    };
    let key = take("partitionkey");
    let correlation_id = take("correlationid");
    let causation_id = take("causationid");
    let traceparent = take("traceparent");
    for (name, value) in event.iter_extensions() {
        if matches!(
            name,
            "partitionkey" | "correlationid" | "causationid" | "traceparent"
        ) {
            continue;
        }
        let value = match value {
            cloudevents::event::ExtensionValue::String(s) => ExtensionValue::String(s.clone()),
            cloudevents::event::ExtensionValue::Integer(i) => ExtensionValue::Integer(*i),
            cloudevents::event::ExtensionValue::Boolean(b) => ExtensionValue::Boolean(*b),
        };
        extensions.insert(name.to_owned(), value);
    }
    let id = event.id().to_owned();
    let key = key
        .or_else(|| record_key(record))
        .unwrap_or_else(|| id.clone());
    let (content_type, data_schema, data) = event.take_data();
    let payload = match data {
        None => Vec::new(),
        Some(Data::Binary(bytes)) => bytes,
        Some(Data::String(text)) => text.into_bytes(),
        Some(Data::Json(value)) => serde_json::to_vec(&value)
            .map_err(|e| Error::MalformedEvent(format!("data cannot be re-encoded: {e}")))?,
    };
    Ok(Envelope {
        id: MessageId::from(id),
        topic: record.topic.clone(),
        key,
        message_type: event.ty().to_owned(),
        source: event.source().to_string(),
        time: event.time().copied().unwrap_or_else(Utc::now),
        subject: event.subject().map(str::to_owned),
        data_schema: data_schema.map(|u| u.to_string()),
        content_type: content_type.unwrap_or_else(|| "application/json".to_owned()),
        extensions,
        payload,
        correlation_id,
        causation_id,
        traceparent,
    })
}
