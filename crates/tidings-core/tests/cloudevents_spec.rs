//! The CloudEvents codec against the examples of the CloudEvents 1.0 specification (JSON event
//! format §3 and the Kafka protocol binding §3.2/§3.3).

use serde_json::Value;
use tidings_core::{
    Envelope, Error, ExtensionValue,
    cloudevents::{self, ContentMode, Record},
};

fn structured_record(json: &str) -> Record {
    Record {
        topic: "mytopic".into(),
        key: Some(b"mykey".to_vec()),
        headers: vec![(
            "content-type".into(),
            b"application/cloudevents+json; charset=UTF-8".to_vec(),
        )],
        value: json.as_bytes().to_vec(),
    }
}

/// The spec's examples with the attributes JSON leaves implicit (nulls) dropped, plus the
/// partition key that Tidings always sends.
fn normalised(json: &str) -> Value {
    let mut value: Value = serde_json::from_str(json).expect("fixture is JSON");
    let object = value.as_object_mut().expect("fixture is an object");
    object.retain(|_, v| !v.is_null());
    object.insert("partitionkey".into(), "mykey".into());
    value
}

fn round_trip_structured(json: &str) -> Envelope {
    let envelope = cloudevents::decode(&structured_record(json)).expect("spec example decodes");
    let encoded = cloudevents::encode(&envelope, ContentMode::Structured).expect("encodes");
    let reencoded: Value = serde_json::from_slice(&encoded.value).expect("encoder writes JSON");
    assert_eq!(
        reencoded,
        normalised(json),
        "structured round trip changed the event"
    );
    assert_eq!(
        cloudevents::decode(&encoded).expect("re-decodes"),
        envelope,
        "decode(encode(e)) != e"
    );
    // The same event through binary mode loses nothing either (extension types aside, which
    // headers carry as text).
    let binary = cloudevents::decode(&cloudevents::encode_binary(&envelope)).expect("binary");
    assert_eq!(binary.payload, envelope.payload);
    assert_eq!(binary.id, envelope.id);
    assert_eq!(binary.time, envelope.time);
    assert_eq!(binary.content_type, envelope.content_type);
    envelope
}

#[test]
fn json_format_example_with_base64_data() {
    let envelope = round_trip_structured(include_str!("fixtures/spec-json-base64.json"));
    assert_eq!(envelope.id.as_str(), "A234-1234-1234");
    assert_eq!(envelope.source, "/mycontext");
    assert_eq!(
        envelope.content_type,
        "application/vnd.apache.thrift.binary"
    );
    assert_eq!(envelope.payload, (0u8..10).collect::<Vec<_>>());
    assert_eq!(
        envelope.extensions.get("comexampleothervalue"),
        Some(&ExtensionValue::Integer(5))
    );
    assert_eq!(envelope.key, "mykey", "the record key is the partition key");
}

#[test]
fn json_format_example_with_json_data() {
    let envelope = round_trip_structured(include_str!("fixtures/spec-json-data.json"));
    let data: Value = envelope.decode_json().expect("data is JSON");
    assert_eq!(data["appinfoB"], 123);
    assert_eq!(envelope.subject, None);
    assert!(!envelope.extensions.contains_key("unsetextension"));
}

#[test]
fn kafka_structured_example_with_string_data() {
    let envelope = round_trip_structured(include_str!("fixtures/spec-kafka-structured.json"));
    assert_eq!(envelope.payload, br#"<much wow="xml"/>"#);
    assert_eq!(envelope.content_type, "application/xml");
}

/// Kafka protocol binding §3.2.4, binary content mode example.
#[test]
fn kafka_binary_example() {
    let avro = vec![0x02, 0x06, b'f', b'o', b'o'];
    let record = Record {
        topic: "mytopic".into(),
        key: Some(b"mykey".to_vec()),
        headers: [
            ("ce_specversion", "1.0"),
            ("ce_type", "com.example.someevent"),
            ("ce_source", "/mycontext/subcontext"),
            ("ce_id", "1234-1234-1234"),
            ("ce_time", "2018-04-05T03:56:24Z"),
            ("content-type", "application/avro"),
            ("ce_comexampleextension1", "value"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect(),
        value: avro.clone(),
    };
    let envelope = cloudevents::decode(&record).expect("binary example decodes");
    assert_eq!(envelope.message_type, "com.example.someevent");
    assert_eq!(envelope.key, "mykey");
    assert_eq!(envelope.topic, "mytopic");
    assert_eq!(envelope.payload, avro);
    assert_eq!(envelope.time.to_rfc3339(), "2018-04-05T03:56:24+00:00");
    assert_eq!(
        envelope.extensions.get("comexampleextension1"),
        Some(&ExtensionValue::from("value"))
    );

    let encoded = cloudevents::encode(&envelope, ContentMode::Binary).expect("encodes");
    for (name, value) in &record.headers {
        assert_eq!(
            encoded.header(name),
            Some(value.as_slice()),
            "header {name} changed in the round trip"
        );
    }
    assert_eq!(encoded.key, record.key);
    assert_eq!(cloudevents::decode(&encoded).expect("re-decodes"), envelope);
}

#[test]
fn tidings_attributes_survive_both_modes() {
    let mut envelope = Envelope::new(
        "orders",
        "order-7",
        "order.placed",
        "application/json",
        br#"{"n":1}"#.to_vec(),
    );
    envelope.correlation_id = Some("corr-1".into());
    envelope.causation_id = Some("cause-1".into());
    envelope.traceparent = Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into());
    envelope.subject = Some("order-7".into());
    envelope.extensions.insert("tenant".into(), "acme".into());
    for mode in [ContentMode::Binary, ContentMode::Structured] {
        let decoded = cloudevents::decode(&cloudevents::encode(&envelope, mode).expect("encodes"))
            .expect("decodes");
        assert_eq!(decoded, envelope, "{mode:?} round trip");
    }
}

#[test]
fn malformed_records_are_rejected_with_a_reason() {
    let cases: Vec<(Record, &str)> = vec![
        (
            Record {
                topic: "t".into(),
                value: b"hello".to_vec(),
                ..Record::default()
            },
            "ce_specversion",
        ),
        (
            structured_record("{not json"),
            "not a CloudEvents JSON document",
        ),
        (
            structured_record(r#"{"specversion":"1.0","type":"t","source":"/s"}"#),
            "not a CloudEvents JSON document",
        ),
        (
            Record {
                topic: "t".into(),
                headers: vec![
                    ("ce_specversion".into(), b"1.0".to_vec()),
                    ("ce_id".into(), b"1".to_vec()),
                    ("ce_source".into(), b"/s".to_vec()),
                ],
                ..Record::default()
            },
            "required attribute type",
        ),
        (
            Record {
                topic: "t".into(),
                headers: vec![("ce_specversion".into(), b"0.2".to_vec())],
                ..Record::default()
            },
            "unsupported specversion",
        ),
        (
            Record {
                topic: "t".into(),
                headers: vec![
                    ("ce_specversion".into(), b"1.0".to_vec()),
                    ("ce_id".into(), b"1".to_vec()),
                    ("ce_source".into(), b"/s".to_vec()),
                    ("ce_type".into(), b"t".to_vec()),
                    ("ce_time".into(), b"yesterday".to_vec()),
                ],
                ..Record::default()
            },
            "not RFC 3339",
        ),
        (
            Record {
                topic: "t".into(),
                headers: vec![("ce_specversion".into(), vec![0xff, 0xfe])],
                ..Record::default()
            },
            "not UTF-8",
        ),
    ];
    for (record, expected) in cases {
        match cloudevents::decode(&record) {
            Err(Error::MalformedEvent(reason)) => {
                assert!(
                    reason.contains(expected),
                    "{reason:?} should mention {expected:?}"
                )
            }
            other => panic!("expected MalformedEvent({expected}), got {other:?}"),
        }
    }
}
