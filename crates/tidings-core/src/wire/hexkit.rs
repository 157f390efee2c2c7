//! GHGA hexkit's Kafka event layout (hexkit 9): the payload, a JSON object in ASCII, as the
//! value; the event type, id and correlation id in the `type`, `event_id` and
//! `correlation_id` headers; any further header as it is.
//!
//! hexkit's correlation ids are UUID4s, and its subscriber stops on any other. An event whose
//! correlation id is a UUID of another version (Tidings makes UUIDv7s) is sent with its UUID4
//! twin, the same 128 bits with the version nibble set to 4, so every event of one conversation
//! still shares one id; a correlation id that is no UUID is sent as a UUID4 made from its text
//! (the same text, the same id); an event with none is given one made from its event id, the
//! same on every re-send.

use chrono::Utc;
use uuid::{Builder, Uuid};

use crate::{Envelope, Error, ExtensionValue, MessageId, Result, cloudevents::Record};

/// The header holding the event type.
pub const TYPE_HEADER: &str = "type";
/// The header holding the event id, a UUID.
pub const EVENT_ID_HEADER: &str = "event_id";
/// The header holding the correlation id, a UUID4.
pub const CORRELATION_ID_HEADER: &str = "correlation_id";
/// The headers hexkit's publisher sets itself.
pub const RESERVED_HEADERS: [&str; 3] = [TYPE_HEADER, EVENT_ID_HEADER, CORRELATION_ID_HEADER];
/// The source of an event read from hexkit, which sends none.
pub const SOURCE: &str = "urn:hexkit";

const TRACEPARENT_HEADER: &str = "traceparent";
const CONTENT_TYPE_HEADER: &str = crate::cloudevents::CONTENT_TYPE_HEADER;

/// Encodes `envelope` as hexkit publishes an event. Refuses, naming the event, what hexkit's
/// subscriber would drop or change: data that is not a JSON object, an id that is not a UUID,
/// a key or header value outside ASCII.
pub fn encode(envelope: &Envelope) -> Result<Record> {
    let refuse = |why: String| {
        Error::InvalidMessage(format!(
            "event {} cannot be sent as a hexkit event: {why}",
            envelope.id
        ))
    };
    let value = json_object_in_ascii(&envelope.content_type, &envelope.payload).map_err(refuse)?;
    let event_id = Uuid::parse_str(envelope.id.as_str()).map_err(|_| {
        refuse("its id is not a UUID, which hexkit would replace (use IdScheme::UuidV7)".into())
    })?;
    if !envelope.key.is_ascii() {
        return Err(refuse(format!("its key {:?} is not ASCII", envelope.key)));
    }
    let mut headers: Vec<(String, Vec<u8>)> = vec![
        (
            TYPE_HEADER.into(),
            envelope.message_type.clone().into_bytes(),
        ),
        (EVENT_ID_HEADER.into(), event_id.to_string().into_bytes()),
        (
            CORRELATION_ID_HEADER.into(),
            correlation_uuid4(envelope, event_id)
                .to_string()
                .into_bytes(),
        ),
    ];
    if let Some(traceparent) = &envelope.traceparent {
        headers.push((TRACEPARENT_HEADER.into(), traceparent.clone().into_bytes()));
    }
    for (name, value) in &envelope.extensions {
        if !RESERVED_HEADERS.contains(&name.as_str()) {
            headers.push((name.clone(), value.to_string().into_bytes()));
        }
    }
    let record = Record {
        topic: envelope.topic.clone(),
        key: Some(envelope.key.clone().into_bytes()),
        headers,
        value,
    };
    check_ascii_headers(&record)?;
    Ok(record)
}

/// Fails, naming the header, when a header value is not ASCII: hexkit's subscriber cannot
/// decode such a record at all.
pub(crate) fn check_ascii_headers(record: &Record) -> Result<()> {
    match record.headers.iter().find(|(_, value)| !value.is_ascii()) {
        Some((name, _)) => Err(Error::InvalidMessage(format!(
            "header {name} of a record for {} is not ASCII, which hexkit cannot read",
            record.topic
        ))),
        None => Ok(()),
    }
}

/// `payload` as the value hexkit reads: a JSON object, its non-ASCII text escaped.
fn json_object_in_ascii(
    content_type: &str,
    payload: &[u8],
) -> std::result::Result<Vec<u8>, String> {
    if !crate::cloudevents::is_json(content_type) {
        return Err(format!(
            "its data is {content_type}, and hexkit carries JSON"
        ));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(payload)
        .map_err(|e| format!("its data is not JSON: {e}"))?;
    if payload.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err("its data is not a JSON object, and hexkit carries objects".into());
    }
    if payload.is_ascii() {
        return Ok(payload.to_vec());
    }
    // Valid JSON has non-ASCII characters only inside strings, where `\uXXXX` means the same.
    let text = std::str::from_utf8(payload).map_err(|e| format!("its data is not UTF-8: {e}"))?;
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_ascii() {
            escaped.push(c);
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                escaped.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    Ok(escaped.into_bytes())
}

/// The UUID4 sent as `envelope`'s correlation id (see the module's text).
fn correlation_uuid4(envelope: &Envelope, event_id: Uuid) -> Uuid {
    let bits = match envelope.correlation_id.as_deref() {
        None => event_id,
        Some(text) => match Uuid::parse_str(text) {
            Ok(id) if id.get_version_num() == 4 => return id,
            Ok(id) => id,
            Err(_) => Uuid::new_v5(&Uuid::NAMESPACE_URL, text.as_bytes()),
        },
    };
    Builder::from_random_bytes(bits.into_bytes()).into_uuid()
}

/// Header `name` of `record` as text, if it is there, UTF-8 and not empty.
pub(crate) fn header_text(record: &Record, name: &str) -> Option<String> {
    record
        .header(name)
        .and_then(|v| std::str::from_utf8(v).ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Decodes a record hexkit published. Its source is [`SOURCE`], its time when it was read;
/// headers beyond the three (and `traceparent`, `content-type`) become extensions.
pub fn decode(record: &Record) -> Result<Envelope> {
    let required = |name: &str| {
        header_text(record, name).ok_or_else(|| {
            Error::MalformedEvent(format!(
                "no {name} header: neither a CloudEvent nor a hexkit event"
            ))
        })
    };
    let message_type = required(TYPE_HEADER)?;
    let id = required(EVENT_ID_HEADER)?;
    let mut extensions = std::collections::BTreeMap::new();
    for (name, value) in &record.headers {
        let lower = name.to_ascii_lowercase();
        let known = RESERVED_HEADERS.contains(&lower.as_str())
            || [TRACEPARENT_HEADER, CONTENT_TYPE_HEADER].contains(&lower.as_str());
        if !known && let Ok(text) = std::str::from_utf8(value) {
            extensions.insert(lower, ExtensionValue::String(text.to_owned()));
        }
    }
    let key = record
        .key
        .as_deref()
        .and_then(|k| std::str::from_utf8(k).ok())
        .filter(|k| !k.is_empty())
        .map_or_else(|| id.clone(), str::to_owned);
    Ok(Envelope {
        id: MessageId::from(id),
        topic: record.topic.clone(),
        key,
        message_type,
        source: SOURCE.to_owned(),
        time: Utc::now(),
        subject: None,
        data_schema: None,
        content_type: header_text(record, CONTENT_TYPE_HEADER)
            .unwrap_or_else(|| "application/json".to_owned()),
        correlation_id: header_text(record, CORRELATION_ID_HEADER),
        causation_id: None,
        traceparent: header_text(record, TRACEPARENT_HEADER),
        extensions,
        payload: record.value.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(payload: &str) -> Envelope {
        Envelope::new(
            "users",
            "user-1",
            "UserCreated",
            "application/json",
            payload,
        )
    }

    fn header<'a>(record: &'a Record, name: &str) -> &'a str {
        std::str::from_utf8(record.header(name).unwrap()).unwrap()
    }

    #[test]
    fn an_event_goes_with_hexkit_headers_and_its_payload_as_the_value() {
        let mut event = envelope(r#"{"name":"Zoë"}"#);
        event.correlation_id = Some("5b3c7c8e-2f4a-4d1b-9e6f-0a1b2c3d4e5f".to_owned());
        event
            .extensions
            .insert("tenant".into(), ExtensionValue::String("t1".into()));
        let record = encode(&event).unwrap();
        assert_eq!(header(&record, "type"), "UserCreated");
        assert_eq!(header(&record, "event_id"), event.id.as_str());
        assert_eq!(
            header(&record, "correlation_id"),
            "5b3c7c8e-2f4a-4d1b-9e6f-0a1b2c3d4e5f"
        );
        assert_eq!(header(&record, "tenant"), "t1");
        assert_eq!(record.value, br#"{"name":"Zo\u00eb"}"#);
        assert_eq!(record.key.as_deref(), Some(&b"user-1"[..]));
        let back: serde_json::Value = serde_json::from_slice(&record.value).unwrap();
        assert_eq!(back["name"], "Zoë");
    }

    #[test]
    fn a_uuid7_correlation_id_goes_as_its_uuid4_twin() {
        let mut first = envelope("{}");
        let v7 = Uuid::now_v7();
        first.correlation_id = Some(v7.to_string());
        let mut second = envelope("{}");
        second.correlation_id = first.correlation_id.clone();
        let sent =
            |e: &Envelope| Uuid::parse_str(header(&encode(e).unwrap(), "correlation_id")).unwrap();
        let twin = sent(&first);
        assert_eq!(twin.get_version_num(), 4);
        assert_eq!(twin, sent(&second));
        let (ours, theirs) = (v7.as_bytes(), twin.as_bytes());
        assert_eq!(ours[..6], theirs[..6]);
        assert_eq!(ours[7..], theirs[7..]);
        assert_eq!(ours[6] & 0x0f, theirs[6] & 0x0f);
    }

    #[test]
    fn an_event_without_a_correlation_id_gets_the_same_one_on_every_send() {
        let event = envelope("{}");
        let once = encode(&event).unwrap();
        let again = encode(&event).unwrap();
        let id = header(&once, "correlation_id");
        assert_eq!(Uuid::parse_str(id).unwrap().get_version_num(), 4);
        assert_eq!(id, header(&again, "correlation_id"));
    }

    #[test]
    fn what_hexkit_would_drop_is_refused_before_sending() {
        let cases = [
            (envelope("[1, 2]"), "not a JSON object"),
            (envelope("{oops"), "not JSON"),
            (
                Envelope::new("t", "k", "T", "text/plain", "hello"),
                "hexkit carries JSON",
            ),
            (
                Envelope::new("t", "clé", "T", "application/json", "{}"),
                "not ASCII",
            ),
        ];
        for (event, reason) in cases {
            let error = encode(&event).unwrap_err().to_string();
            assert!(
                error.contains(reason) && error.contains(event.id.as_str()),
                "{error}"
            );
        }
        let mut ulid = envelope("{}");
        ulid.id = MessageId::new_in(crate::IdScheme::Ulid);
        let error = encode(&ulid).unwrap_err().to_string();
        assert!(error.contains("not a UUID"), "{error}");
    }

    #[test]
    fn a_hexkit_record_decodes_with_its_headers() {
        let record = Record {
            topic: "users".into(),
            key: Some(b"user-1".to_vec()),
            headers: vec![
                ("type".into(), b"UserCreated".to_vec()),
                (
                    "event_id".into(),
                    b"0b7d3c1e-9f2a-4c8b-a1d2-e3f4a5b6c7d8".to_vec(),
                ),
                (
                    "correlation_id".into(),
                    b"5b3c7c8e-2f4a-4d1b-9e6f-0a1b2c3d4e5f".to_vec(),
                ),
                ("original_topic".into(), b"users".to_vec()),
            ],
            value: br#"{"name":"Zo\u00eb"}"#.to_vec(),
        };
        let event = decode(&record).unwrap();
        assert_eq!(event.id.as_str(), "0b7d3c1e-9f2a-4c8b-a1d2-e3f4a5b6c7d8");
        assert_eq!(event.message_type, "UserCreated");
        assert_eq!(event.key, "user-1");
        assert_eq!(event.source, SOURCE);
        assert_eq!(
            event.correlation_id.as_deref(),
            Some("5b3c7c8e-2f4a-4d1b-9e6f-0a1b2c3d4e5f")
        );
        assert_eq!(
            event.extensions.get("original_topic"),
            Some(&ExtensionValue::String("users".into()))
        );
        let mut untyped = record.clone();
        untyped.headers.remove(0);
        let error = decode(&untyped).unwrap_err().to_string();
        assert!(error.contains("no type header"), "{error}");
    }
}
