//! The CloudEvents XZepr publishes (its design text's three example documents, in
//! `tests/xzepr/`): `specversion` `1.0.1` and extension names with underscores. The strict
//! decoder refuses them naming the rule broken; the lenient one reads them and says what it
//! normalised.

use tidings_core::{
    ExtensionValue,
    cloudevents::{self, Normalised, Record, STRUCTURED_CONTENT_TYPE},
};

const DOCUMENTS: [(&str, &str); 3] = [
    ("user_event", include_str!("xzepr/user_event.json")),
    (
        "receiver_created",
        include_str!("xzepr/receiver_created.json"),
    ),
    ("group_created", include_str!("xzepr/group_created.json")),
];

/// `document` as XZepr's producer sends it: the JSON alone, or with the structured media type.
fn record(document: &str, with_content_type: bool) -> Record {
    let headers = if with_content_type {
        vec![(
            "content-type".to_owned(),
            STRUCTURED_CONTENT_TYPE.as_bytes().to_vec(),
        )]
    } else {
        Vec::new()
    };
    Record {
        topic: "xzepr.dev.events".to_owned(),
        key: Some(b"01HJ1K2M3N4P5Q6R7S8T9V0W1X".to_vec()),
        headers,
        value: document.as_bytes().to_vec(),
    }
}

#[test]
fn strict_decoding_refuses_each_document_naming_the_rule() {
    for (name, document) in DOCUMENTS {
        let error = cloudevents::decode(&record(document, true)).expect_err(name);
        let text = error.to_string();
        assert!(
            text.contains(r#"specversion "1.0.1" breaks the CloudEvents 1.0 rule"#),
            "{name}: {text}"
        );
    }
    let fixed_version = DOCUMENTS[0].1.replace("1.0.1", "1.0");
    let error = cloudevents::decode(&record(&fixed_version, true)).expect_err("underscores");
    let text = error.to_string();
    assert!(
        text.contains("breaks the CloudEvents naming rule") && text.contains("_"),
        "{text}"
    );
}

#[test]
fn lenient_decoding_reads_each_document_and_reports_what_it_normalised() {
    for (name, document) in DOCUMENTS {
        for with_content_type in [true, false] {
            let read = cloudevents::decode_lenient(&record(document, with_content_type))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                read.normalised,
                [
                    Normalised::AttributeName {
                        given: "api_version".into(),
                        now: "apiversion".into()
                    },
                    Normalised::AttributeName {
                        given: "platform_id".into(),
                        now: "platformid".into()
                    },
                    Normalised::SpecVersion {
                        given: "1.0.1".into()
                    },
                ],
                "{name}"
            );
            let event = read.envelope;
            let original: serde_json::Value = serde_json::from_str(document).expect("json");
            assert_eq!(event.id.as_str(), original["id"], "{name}");
            assert_eq!(event.message_type, original["type"], "{name}");
            assert_eq!(event.source, original["source"], "{name}");
            assert_eq!(event.key, "01HJ1K2M3N4P5Q6R7S8T9V0W1X");
            let data: serde_json::Value = event.decode_json().expect("json data");
            assert_eq!(data, original["data"], "{name}");
            let extension = |n: &str| event.extensions.get(n).cloned();
            assert_eq!(
                extension("apiversion"),
                Some(ExtensionValue::String("v1".into()))
            );
            assert_eq!(extension("success"), Some(ExtensionValue::Boolean(true)));
            assert!(extension("platformid").is_some() && extension("package").is_some());
        }
    }
}

#[test]
fn lenient_decoding_still_refuses_what_it_cannot_mend() {
    let two_versions = DOCUMENTS[0].1.replace("\"1.0.1\"", "\"0.3\"");
    let error = cloudevents::decode_lenient(&record(&two_versions, true)).expect_err("0.3");
    assert!(error.to_string().contains("not 1.0 or 1.0.x"), "{error}");
    let clash = DOCUMENTS[0]
        .1
        .replace("\"package\"", "\"api_version\": \"v2\", \"apiversion\"");
    let error = cloudevents::decode_lenient(&record(&clash, true)).expect_err("a clash");
    assert!(error.to_string().contains("apiversion"), "{error}");
}

#[test]
fn lenient_decoding_keeps_base64_data_and_reads_binary_records_strictly() {
    let mut envelope = tidings_core::Envelope::new(
        "t",
        "k",
        "bytes.sent",
        "application/octet-stream",
        vec![0u8, 159, 146, 150],
    );
    envelope.source = "svc".into();
    let structured = cloudevents::encode_structured(&envelope).expect("structured");
    let read = cloudevents::decode_lenient(&structured).expect("lenient");
    assert_eq!(
        read.envelope.payload, envelope.payload,
        "data_base64 was renamed"
    );
    assert!(read.normalised.is_empty(), "{:?}", read.normalised);

    // A binary-mode event whose payload is itself an XZepr document stays that payload.
    let mut carrier = tidings_core::Envelope::new(
        "t",
        "k",
        "forwarded",
        "application/json",
        DOCUMENTS[0].1.as_bytes().to_vec(),
    );
    carrier.source = "svc".into();
    let binary = cloudevents::encode_binary(&carrier);
    let read = cloudevents::decode_lenient(&binary).expect("binary");
    assert_eq!(read.envelope.message_type, "forwarded");
    assert_eq!(read.envelope.payload, carrier.payload);
}
