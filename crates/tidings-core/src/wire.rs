//! Which headers carry an event's attributes on the wire: CloudEvents' `ce_*` (the default),
//! GHGA hexkit's `type` / `event_id` / `correlation_id`, or both at once.
//!
//! hexkit 9's Kafka subscriber reads an event from three headers and a value that is the
//! payload itself, a JSON object in ASCII. It drops (acknowledges and skips) an event without
//! `type` or `correlation_id`, stops on a correlation id that is not a UUID4, swaps an event id
//! that is not a UUID for a new one, and fails on any header or value byte outside ASCII. The
//! [`hexkit`] encoder therefore refuses what hexkit would lose, before anything is sent:
//! a payload that is not a JSON object, an id that is not a UUID, a key or header that is not
//! ASCII. JSON text outside ASCII is escaped (`\u00e9`), as hexkit's own `json.dumps` does.
//!
//! With [`HeaderProfile::CloudEventsAndHexkit`] a record is both a binary-mode CloudEvent and a
//! hexkit event, so consumers of either kind read it during a migration. Decoding with a hexkit
//! profile takes either kind of record.

use serde::{Deserialize, Serialize};

use crate::{
    Envelope, Result,
    cloudevents::{self, ContentMode, Record},
};

pub mod hexkit;

/// The headers a record carries an event's attributes in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HeaderProfile {
    /// CloudEvents' Kafka binding, in the publisher's [`ContentMode`].
    #[default]
    CloudEvents,
    /// hexkit's headers and value only.
    Hexkit,
    /// A binary-mode CloudEvent that also carries hexkit's headers and value layout.
    CloudEventsAndHexkit,
}

impl HeaderProfile {
    /// The profile named `name` (`cloud_events`, `hexkit`, `cloud_events_and_hexkit`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "cloud_events" | "cloudevents" => Some(Self::CloudEvents),
            "hexkit" => Some(Self::Hexkit),
            "cloud_events_and_hexkit" | "both" => Some(Self::CloudEventsAndHexkit),
            _ => None,
        }
    }

    fn reads_hexkit(self) -> bool {
        self != Self::CloudEvents
    }
}

/// Encodes `envelope` in `profile` (`mode` applies to [`HeaderProfile::CloudEvents`]; the
/// combined profile is always binary mode, since hexkit reads the value as the payload).
pub fn encode(envelope: &Envelope, mode: ContentMode, profile: HeaderProfile) -> Result<Record> {
    match profile {
        HeaderProfile::CloudEvents => cloudevents::encode(envelope, mode),
        HeaderProfile::Hexkit => hexkit::encode(envelope),
        HeaderProfile::CloudEventsAndHexkit => {
            let hexkit = hexkit::encode(envelope)?;
            let mut record = cloudevents::encode_binary(envelope);
            hexkit::check_ascii_headers(&record)?;
            record.value = hexkit.value;
            record.headers.extend(
                hexkit
                    .headers
                    .into_iter()
                    .filter(|(name, _)| hexkit::RESERVED_HEADERS.contains(&name.as_str())),
            );
            Ok(record)
        }
    }
}

/// Decodes `record` as `profile` reads: strictly as a CloudEvent, or — with a hexkit profile —
/// as a CloudEvent when it is one and as a hexkit event otherwise.
pub fn decode(record: &Record, profile: HeaderProfile) -> Result<Envelope> {
    if !profile.reads_hexkit() || is_cloud_event(record) {
        let mut envelope = cloudevents::decode(record)?;
        if profile.reads_hexkit() && envelope.correlation_id.is_none() {
            envelope.correlation_id = hexkit::header_text(record, hexkit::CORRELATION_ID_HEADER);
        }
        return Ok(envelope);
    }
    hexkit::decode(record)
}

/// Whether `record` is a CloudEvent in either content mode.
fn is_cloud_event(record: &Record) -> bool {
    record.header("ce_specversion").is_some()
        || record
            .header(cloudevents::CONTENT_TYPE_HEADER)
            .and_then(|v| std::str::from_utf8(v).ok())
            .is_some_and(|ct| ct.trim_start().starts_with("application/cloudevents"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Envelope {
        let mut envelope = Envelope::new(
            "orders",
            "order-1",
            "OrderPlaced",
            "application/json",
            br#"{"n":1}"#.to_vec(),
        );
        envelope.correlation_id = Some("7a8d3b1e-5c2f-4e9a-8b7c-1d2e3f4a5b6c".to_owned());
        envelope
    }

    #[test]
    fn the_combined_profile_is_read_by_both_decoders() {
        let envelope = envelope();
        let record = encode(
            &envelope,
            ContentMode::Structured,
            HeaderProfile::CloudEventsAndHexkit,
        )
        .unwrap();
        let as_cloud_event = cloudevents::decode(&record).unwrap();
        let as_hexkit = hexkit::decode(&record).unwrap();
        for decoded in [&as_cloud_event, &as_hexkit] {
            assert_eq!(decoded.id, envelope.id);
            assert_eq!(decoded.message_type, "OrderPlaced");
            assert_eq!(decoded.correlation_id, envelope.correlation_id);
            assert_eq!(decoded.payload, envelope.payload);
        }
        assert_eq!(as_cloud_event.source, envelope.source);
    }

    #[test]
    fn a_cloud_events_profile_refuses_a_hexkit_record_and_a_hexkit_one_reads_it() {
        let record = encode(&envelope(), ContentMode::Binary, HeaderProfile::Hexkit).unwrap();
        let error = decode(&record, HeaderProfile::CloudEvents).unwrap_err();
        assert!(error.to_string().contains("ce_specversion"), "{error}");
        let decoded = decode(&record, HeaderProfile::Hexkit).unwrap();
        assert_eq!(decoded.message_type, "OrderPlaced");
    }

    #[test]
    fn profiles_parse_by_their_names() {
        assert_eq!(HeaderProfile::parse("hexkit"), Some(HeaderProfile::Hexkit));
        assert_eq!(
            HeaderProfile::parse("cloud-events-and-hexkit"),
            Some(HeaderProfile::CloudEventsAndHexkit)
        );
        assert_eq!(HeaderProfile::parse("avro"), None);
    }
}
