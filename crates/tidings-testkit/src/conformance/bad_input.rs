//! Invariant 7, bad input: refused with a clear error, and nothing else is lost.

use std::collections::HashMap;

use super::common::*;

#[derive(serde::Serialize)]
struct Unserializable;

impl Message for Unserializable {
    fn message_type(&self) -> &str {
        "conformance.unserializable"
    }
    fn aggregate_id(&self) -> String {
        "k".to_owned()
    }
    fn topic(&self) -> Option<&str> {
        Some("conformance")
    }
    fn encode(&self) -> tidings_core::Result<tidings_core::Payload> {
        // Map keys must be strings in JSON: this is how a real serializer fails.
        let map: HashMap<Vec<u8>, u8> = HashMap::from([(vec![1], 1)]);
        tidings_core::Payload::json(&map).map_err(|e| Error::Serialization {
            message_type: self.message_type().to_owned(),
            source: Box::new(e),
        })
    }
}

/// Invariant 7: an oversized payload, an invalid topic or an empty key is refused with a clear
/// error at staging — by the unit of work and by the backend's own `stage` — while the rest of
/// the unit of work commits and loses nothing. A payload that does not serialize is refused
/// before it reaches the backend.
pub async fn bad_input_is_refused_and_loses_nothing<B: MarkerStore>(store: &B) {
    let backend = store.backend();
    let topic = unique("bad");
    let limit = Limits::default().max_payload_bytes;
    let oversized = Envelope::new(
        &topic,
        "k",
        "big",
        "application/octet-stream",
        vec![0u8; limit + 1],
    );
    let bad_topic = event("no spaces allowed", "k", "bad-topic");
    let no_key = event(&topic, "", "no-key");
    let marker = unique("bad");
    let plan = WorkPlan::commit(
        &marker,
        vec![
            event(&topic, "k", "kept-1"),
            oversized.clone(),
            bad_topic.clone(),
            no_key.clone(),
            event(&topic, "k", "kept-2"),
        ],
    );
    let WorkOutcome::Committed(rejected) = run(store, plan).await else {
        panic!("the valid part of the unit of work must commit");
    };
    assert!(
        matches!(rejected.as_slice(), [
            Error::PayloadTooLarge { size, limit: l },
            Error::InvalidTopic { .. },
            Error::InvalidMessage(_),
        ] if *size == limit + 1 && *l == limit),
        "unexpected rejections: {rejected:?}"
    );
    assert!(
        rejected[0].to_string().contains("exceeds the limit"),
        "{}",
        rejected[0]
    );
    assert_eq!(markers(store, &marker).await, 1);
    assert_eq!(
        labels(&claim(backend, "relay", Utc::now()).await),
        ["kept-1", "kept-2"]
    );

    for bad in [oversized, bad_topic, no_key] {
        let mut tx = backend.begin().await.expect("begin");
        let refused = backend.stage(&mut tx, &[bad]).await;
        assert!(
            refused.as_ref().is_err_and(Error::is_invalid_input),
            "the backend's stage accepted bad input: {refused:?}"
        );
        backend.rollback(tx).await.expect("rollback");
    }

    let unserializable = EnvelopeFactory::default().envelope(&Unserializable, None);
    assert!(
        matches!(&unserializable, Err(Error::Serialization { message_type, .. }) if message_type == "conformance.unserializable"),
        "{unserializable:?}"
    );
}
