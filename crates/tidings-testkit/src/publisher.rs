//! The contract every [`EventPublisher`] keeps, checked against the real broker: order per key
//! within a batch, one result per event with the failures named, the rest of a failed event's
//! key held back (and nothing else), and an invalid topic or an oversized event refused before
//! anything is sent.
//!
//! Absence is checked without waiting: an event that must not have been sent is followed, on
//! the same key (so the same partition), by one that must; reading the key back shows whether
//! anything came between.

use std::{future::Future, pin::Pin};

use tidings_core::{Envelope, Error, EventPublisher};

use crate::env::unique;

/// A publisher under the contract, with what the suite needs from its broker.
pub trait PublisherUnderTest: Send + Sync + 'static {
    /// The publisher.
    type Publisher: EventPublisher;

    /// The publisher.
    fn publisher(&self) -> &Self::Publisher;

    /// A topic of the case's own with `partitions` partitions (created on the broker).
    fn topic(&self, partitions: i32) -> impl Future<Output = String> + Send;

    /// The first `count` events on `topic`, decoded; within a partition in broker order.
    fn read(&self, topic: &str, count: usize) -> impl Future<Output = Vec<Envelope>> + Send;

    /// The largest payload the publisher is configured to take.
    fn max_payload_bytes(&self) -> usize;

    /// Removes what the case made (its topics); called after each case.
    fn clean_up(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

fn numbered(topic: &str, key: &str, n: usize) -> Envelope {
    let mut envelope = Envelope::new(
        topic,
        key,
        "contract.event",
        "application/json",
        format!(r#"{{"n":{n}}}"#).into_bytes(),
    );
    envelope.correlation_id = Some(format!("conversation-{key}"));
    envelope
}

fn number(envelope: &Envelope) -> usize {
    serde_json::from_slice::<serde_json::Value>(&envelope.payload)
        .ok()
        .and_then(|v| v["n"].as_u64())
        .map_or(usize::MAX, |n| n as usize)
}

fn of_key(envelopes: &[Envelope], key: &str) -> Vec<usize> {
    envelopes
        .iter()
        .filter(|e| e.key == key)
        .map(number)
        .collect()
}

/// A batch over several keys on a topic of several partitions arrives whole, every key's
/// events in the batch's order, each as it was sent (id, payload, correlation id).
pub async fn order_per_key_within_a_batch<P: PublisherUnderTest>(under_test: &P) {
    let topic = under_test.topic(3).await;
    let keys: Vec<String> = (0..5).map(|k| unique(&format!("k{k}"))).collect();
    let batch: Vec<Envelope> = (0..40)
        .map(|n| numbered(&topic, &keys[n % keys.len()], n))
        .collect();
    let results = under_test.publisher().publish_batch(&batch).await;
    assert_eq!(results.len(), batch.len(), "one result per event");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let read = under_test.read(&topic, batch.len()).await;
    for received in &read {
        let sent = batch
            .iter()
            .find(|e| e.id == received.id)
            .expect("an event sent");
        assert_eq!(received.payload, sent.payload);
        assert_eq!(received.correlation_id, sent.correlation_id);
        assert_eq!(received.message_type, sent.message_type);
    }
    for (k, key) in keys.iter().enumerate() {
        let expected: Vec<usize> = (0..40).filter(|n| n % keys.len() == k).collect();
        assert_eq!(of_key(&read, key), expected, "key {key} out of order");
    }
}

/// An event that fails is reported at its place in the batch; the later events of its key are
/// not sent (they would overtake it), and other keys' events are.
pub async fn a_failure_holds_back_its_key_only<P: PublisherUnderTest>(under_test: &P) {
    let topic = under_test.topic(1).await;
    let (held, free) = (unique("held"), unique("free"));
    let mut refused = numbered(&topic, &held, 2);
    refused.topic = "not a valid topic!".to_owned();
    let batch = [
        numbered(&topic, &held, 1),
        refused,
        numbered(&topic, &held, 3),
        numbered(&topic, &free, 4),
    ];
    let results = under_test.publisher().publish_batch(&batch).await;
    assert_eq!(results.len(), 4, "one result per event");
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(
        matches!(&results[1], Err(Error::InvalidTopic { topic, .. }) if topic == "not a valid topic!"),
        "{:?}",
        results[1]
    );
    assert!(
        results[2].is_err(),
        "an event behind a failed one of its key was sent"
    );
    assert!(
        results[3].is_ok(),
        "another key was held back: {:?}",
        results[3]
    );
    let sentinel = numbered(&topic, &held, 5);
    let sent = under_test.publisher().publish(&sentinel).await;
    assert!(sent.is_ok(), "{sent:?}");
    let read = under_test.read(&topic, 3).await;
    assert_eq!(
        of_key(&read, &held),
        [1, 5],
        "a held-back event reached the broker"
    );
    assert_eq!(of_key(&read, &free), [4]);
}

/// An event on a topic name the broker cannot have is refused, naming the topic and the rule,
/// as bad input (retrying will not help).
pub async fn an_invalid_topic_is_refused_before_sending<P: PublisherUnderTest>(under_test: &P) {
    for bad in ["", "has space", "slash/ed", &"t".repeat(250)] {
        let result = under_test
            .publisher()
            .publish(&numbered(bad, &unique("k"), 1))
            .await;
        match result {
            Err(error @ Error::InvalidTopic { .. }) => {
                assert!(error.is_invalid_input());
                assert!(error.to_string().contains("invalid topic name"), "{error}");
            }
            other => panic!("topic {bad:?}: {other:?}"),
        }
    }
}

/// An event larger than the publisher takes is refused with its real size and the limit, and
/// nothing of it is sent.
pub async fn an_oversized_event_is_refused_before_sending<P: PublisherUnderTest>(under_test: &P) {
    let topic = under_test.topic(1).await;
    let key = unique("big");
    let limit = under_test.max_payload_bytes();
    let mut oversized = numbered(&topic, &key, 1);
    oversized.payload = vec![b'x'; limit + 1];
    match under_test.publisher().publish(&oversized).await {
        Err(
            error @ Error::PayloadTooLarge {
                size,
                limit: refused_at,
            },
        ) => {
            assert!(error.is_invalid_input());
            assert!(
                refused_at > 0 && size > refused_at && size >= limit,
                "made-up sizes: {size} over {refused_at}"
            );
        }
        other => panic!("an event of {} bytes gave {other:?}", limit + 1),
    }
    let sent = under_test
        .publisher()
        .publish(&numbered(&topic, &key, 2))
        .await;
    assert!(sent.is_ok(), "{sent:?}");
    let read = under_test.read(&topic, 1).await;
    assert_eq!(
        of_key(&read, &key),
        [2],
        "the oversized event reached the broker"
    );
}

pub(crate) type CaseFn<P> = for<'a> fn(&'a P) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        vec![$((stringify!($name), (|p| Box::pin($name(p))) as CaseFn<P>)),*]
    };
}

/// Every case of the publisher contract, by name.
pub(crate) fn cases<P: PublisherUnderTest>() -> Vec<(&'static str, CaseFn<P>)> {
    cases![
        order_per_key_within_a_batch,
        a_failure_holds_back_its_key_only,
        an_invalid_topic_is_refused_before_sending,
        an_oversized_event_is_refused_before_sending,
    ]
}
