//! The persistent publisher's rules, checked against a real [`EventStore`] and a real
//! publisher. The publisher is wrapped in a [`Recorder`] that notes what the broker took (and
//! the correlation context it was sent in) and can play a broker that refuses everything; the
//! store is wrapped to count round trips.
//!
//! Register it with [`Suite::persistent`](crate::Suite::persistent), giving a function that
//! makes a fresh, empty store and the publisher to send through (its topics are made unique
//! per case).

use std::{
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use chrono::Utc;

use tidings_core::{
    Envelope, Error, EventPublisher, EventStore, ExtensionValue, MessageId, PublishOutcome, Result,
    StoredEvent, StoredEventQuery,
    context::{self, Context},
};
use tidings_persistent::{PersistentConfig, PersistentPublisher, WhenBrokerFails};

use crate::{conformance::event, env::unique};

/// What the broker took, with the correlation id in context when it was sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Sent {
    /// The event as sent.
    pub envelope: Envelope,
    /// The correlation id of the context it was sent in.
    pub context_correlation: Option<String>,
}

/// A publisher wrapper that records what the broker acknowledged and can refuse everything
/// (a broker that is down).
#[derive(Clone)]
pub struct Recorder<P> {
    inner: P,
    sent: Arc<Mutex<Vec<Sent>>>,
    down: Arc<AtomicBool>,
    batches: Arc<AtomicUsize>,
}

impl<P: EventPublisher> Recorder<P> {
    /// Records what `inner` acknowledges.
    pub fn new(inner: P) -> Self {
        Self {
            inner,
            sent: Arc::default(),
            down: Arc::default(),
            batches: Arc::default(),
        }
    }

    /// Everything acknowledged so far, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().expect("recorder lock").clone()
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

impl<P: EventPublisher> EventPublisher for Recorder<P> {
    async fn publish_batch(&self, envelopes: &[Envelope]) -> PublishOutcome {
        self.batches.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return envelopes
                .iter()
                .map(|e| {
                    Err(Error::unavailable(format!(
                        "broker down: {} not sent",
                        e.id
                    )))
                })
                .collect();
        }
        let results = self.inner.publish_batch(envelopes).await;
        let correlation = context::current().and_then(|c| c.correlation_id);
        let mut sent = self.sent.lock().expect("recorder lock");
        for (envelope, result) in envelopes.iter().zip(&results) {
            if result.is_ok() {
                sent.push(Sent {
                    envelope: envelope.clone(),
                    context_correlation: correlation.clone(),
                });
            }
        }
        results
    }
}

/// A store wrapper counting round trips.
#[derive(Clone)]
struct Counted<S> {
    inner: S,
    stores: Arc<AtomicUsize>,
    marks: Arc<AtomicUsize>,
}

impl<S: EventStore> EventStore for Counted<S> {
    async fn store(&self, events: &[StoredEvent]) -> Result<()> {
        self.stores.fetch_add(1, Ordering::SeqCst);
        self.inner.store(events).await
    }

    async fn mark_published(&self, events: &[(String, MessageId)]) -> Result<u64> {
        self.marks.fetch_add(1, Ordering::SeqCst);
        self.inner.mark_published(events).await
    }

    async fn page(&self, query: &StoredEventQuery) -> Result<Vec<StoredEvent>> {
        self.inner.page(query).await
    }

    async fn assign_event_id(&self, storage_id: &str, id: &MessageId) -> Result<bool> {
        self.inner.assign_event_id(storage_id, id).await
    }
}

/// Reads, in a store's own terms, how it keeps the payload under a storage id: `Some(value)`
/// when kept as queryable JSON, `None` when kept as bytes (or not at all).
pub type JsonProbe<S> = Arc<
    dyn Fn(S, String) -> std::pin::Pin<Box<dyn Future<Output = Option<serde_json::Value>> + Send>>
        + Send
        + Sync,
>;

/// One case's world: a fresh store, the recorder, unique topic names.
pub struct Bench<S, P> {
    store: Counted<S>,
    probe: Option<JsonProbe<S>>,
    recorder: Recorder<P>,
    topic: String,
    compacted: String,
    unstored: String,
}

impl<S: EventStore + Clone, P: EventPublisher + Clone> Bench<S, P> {
    /// A case's world around a fresh `store`, sending through `publisher`.
    pub fn new(store: S, publisher: P) -> Self {
        Self {
            store: Counted {
                inner: store,
                stores: Arc::default(),
                marks: Arc::default(),
            },
            probe: None,
            recorder: Recorder::new(publisher),
            topic: unique("events"),
            compacted: unique("compacted"),
            unstored: unique("unstored"),
        }
    }

    /// Checks with `probe` that JSON payloads are kept as JSON in the store itself.
    pub fn with_probe(mut self, probe: Option<JsonProbe<S>>) -> Self {
        self.probe = probe;
        self
    }

    fn publisher(&self, when: WhenBrokerFails) -> PersistentPublisher<Counted<S>, Recorder<P>> {
        let config = PersistentConfig::new()
            .compacted([self.compacted.clone()])
            .unstored([self.unstored.clone()])
            .when_broker_fails(when);
        PersistentPublisher::new(self.store.clone(), self.recorder.clone(), config)
            .expect("a valid configuration")
    }

    async fn stored(&self) -> Vec<StoredEvent> {
        self.store
            .page(&StoredEventQuery::all(10_000))
            .await
            .expect("page of stored events")
    }

    async fn copy_of(&self, storage_id: &str) -> Option<StoredEvent> {
        self.stored()
            .await
            .into_iter()
            .find(|e| e.storage_id == storage_id)
    }

    fn sent_ids(&self) -> Vec<MessageId> {
        self.recorder
            .sent()
            .into_iter()
            .map(|s| s.envelope.id)
            .collect()
    }
}

fn with_header(mut envelope: Envelope) -> Envelope {
    envelope.extensions.insert(
        "tenant".to_owned(),
        ExtensionValue::String("acme".to_owned()),
    );
    envelope.correlation_id = Some(unique("conversation"));
    envelope
}

/// A copy is stored with every field, sent, and marked published after the broker took it.
pub async fn publish_stores_sends_and_marks<S: EventStore + Clone, P: EventPublisher + Clone>(
    bench: &Bench<S, P>,
) {
    let envelope = with_header(event(&bench.topic, "k", "one"));
    bench
        .publisher(WhenBrokerFails::Fail)
        .publish(&envelope)
        .await
        .expect("publish");
    assert_eq!(bench.sent_ids(), std::slice::from_ref(&envelope.id));
    let copy = bench
        .copy_of(envelope.id.as_str())
        .await
        .expect("a copy under the event id");
    assert!(copy.published, "the copy was not marked published");
    assert_eq!(copy.envelope, envelope, "the copy differs from the event");
    let sent = &bench.recorder.sent()[0].envelope;
    assert_eq!(
        sent.extensions, envelope.extensions,
        "custom headers not sent"
    );
}

/// With the broker down the copy stays unpublished: `Fail` returns the error,
/// `KeepForLater` returns `Ok`; `publish_pending` then sends both, oldest first, and leaves
/// `created` as it was.
pub async fn broker_down_keeps_copies_for_publish_pending<
    S: EventStore + Clone,
    P: EventPublisher + Clone,
>(
    bench: &Bench<S, P>,
) {
    let first = event(&bench.topic, "k1", "first");
    let second = event(&bench.topic, "k2", "second");
    bench.recorder.set_down(true);
    let failing = bench.publisher(WhenBrokerFails::Fail);
    assert!(
        failing.publish(&first).await.is_err(),
        "Fail mode hid a broker failure"
    );
    let lenient = bench.publisher(WhenBrokerFails::KeepForLater);
    let report = lenient
        .publish_many(std::slice::from_ref(&second))
        .await
        .expect("KeepForLater mode returned an error");
    assert_eq!((report.sent, report.pending), (0, 1));
    let before = bench.stored().await;
    assert_eq!(before.len(), 2);
    assert!(before.iter().all(|e| !e.published), "marked without an ack");

    bench.recorder.set_down(false);
    let report = failing.publish_pending().await.expect("publish_pending");
    assert_eq!((report.sent, report.pending), (2, 0));
    assert_eq!(bench.sent_ids(), [first.id.clone(), second.id.clone()]);
    let after = bench.stored().await;
    assert!(after.iter().all(|e| e.published));
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(old.created, new.created, "publish_pending changed created");
    }
    let again = failing.publish_pending().await.expect("publish_pending");
    assert_eq!(again.sent, 0, "published events were sent again");
}

/// On a compacted topic only the latest event of a key is kept, under `<topic>:<key>`, and a
/// stale acknowledgement does not mark a newer copy.
pub async fn compacted_topics_keep_the_latest_per_key<
    S: EventStore + Clone,
    P: EventPublisher + Clone,
>(
    bench: &Bench<S, P>,
) {
    let publisher = bench.publisher(WhenBrokerFails::Fail);
    let older = event(&bench.compacted, "user-1", "v1");
    let newer = event(&bench.compacted, "user-1", "v2");
    publisher.publish(&older).await.expect("publish");
    publisher.publish(&newer).await.expect("publish");
    let slot = format!("{}:user-1", bench.compacted);
    let stored = bench.stored().await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].storage_id, slot);
    assert_eq!(stored[0].envelope.id, newer.id);
    assert_eq!(bench.sent_ids(), [older.id.clone(), newer.id.clone()]);

    // The slot is overwritten between a send and its acknowledgement: the old ack must not
    // mark the new event.
    let newest = event(&bench.compacted, "user-1", "v3");
    bench
        .store
        .store(&[StoredEvent::new(&slot, newest.clone(), Utc::now())])
        .await
        .expect("store");
    let marked = bench
        .store
        .mark_published(&[(slot.clone(), newer.id.clone())])
        .await
        .expect("mark_published");
    assert_eq!(marked, 0, "a stale acknowledgement marked a newer event");
    assert!(!bench.copy_of(&slot).await.expect("slot").published);
}

/// Topics that are not stored are sent without a copy; a topic both compacted and not stored
/// is refused at construction.
pub async fn unstored_topics_are_sent_without_a_copy<
    S: EventStore + Clone,
    P: EventPublisher + Clone,
>(
    bench: &Bench<S, P>,
) {
    let envelope = event(&bench.unstored, "k", "transient");
    bench
        .publisher(WhenBrokerFails::Fail)
        .publish(&envelope)
        .await
        .expect("publish");
    assert_eq!(bench.sent_ids(), std::slice::from_ref(&envelope.id));
    assert!(
        bench.stored().await.is_empty(),
        "an unstored topic was stored"
    );
    let overlapping = PersistentConfig::new()
        .compacted(["both"])
        .unstored(["both"]);
    let refused =
        PersistentPublisher::new(bench.store.clone(), bench.recorder.clone(), overlapping);
    assert!(matches!(refused, Err(Error::Configuration(_))));
}

/// `publish_many` stores a batch with one write, sends it as one batch and marks it with one
/// more write.
pub async fn publish_many_takes_one_round_trip_each<
    S: EventStore + Clone,
    P: EventPublisher + Clone,
>(
    bench: &Bench<S, P>,
) {
    let batch: Vec<Envelope> = (0..50)
        .map(|n| event(&bench.topic, &format!("k{}", n % 7), &format!("e{n}")))
        .collect();
    let report = bench
        .publisher(WhenBrokerFails::Fail)
        .publish_many(&batch)
        .await
        .expect("publish_many");
    assert_eq!((report.sent, report.stored, report.pending), (50, 50, 0));
    assert_eq!(bench.store.stores.load(Ordering::SeqCst), 1, "store writes");
    assert_eq!(bench.store.marks.load(Ordering::SeqCst), 1, "mark writes");
    assert_eq!(
        bench.recorder.batches.load(Ordering::SeqCst),
        1,
        "broker batches"
    );
    let ids: Vec<MessageId> = batch.iter().map(|e| e.id.clone()).collect();
    assert_eq!(bench.sent_ids(), ids, "sent out of order");
}

/// `republish` sends every copy again in `created` order, gives an id to a copy stored without
/// one, leaves `created` alone, and sends each event inside its stored correlation id.
pub async fn republish_sends_everything_again<S: EventStore + Clone, P: EventPublisher + Clone>(
    bench: &Bench<S, P>,
) {
    let publisher = bench.publisher(WhenBrokerFails::Fail);
    let first = with_header(event(&bench.topic, "k", "first"));
    publisher.publish(&first).await.expect("publish");
    let mut legacy = with_header(event(&bench.topic, "k", "legacy"));
    legacy.id = MessageId::from(String::new());
    let legacy_slot = unique("legacy");
    bench
        .store
        .store(&[StoredEvent::new(&legacy_slot, legacy.clone(), Utc::now())])
        .await
        .expect("store a copy without an event id");
    let before = bench.stored().await;

    let report = context::scope(
        Context::correlated("the caller's own conversation"),
        publisher.republish(),
    )
    .await
    .expect("republish");
    assert_eq!(report.sent, 2);
    let resent = &bench.recorder.sent()[1..];
    assert_eq!(resent[0].envelope.id, first.id);
    assert_eq!(resent[0].context_correlation, first.correlation_id);
    assert_eq!(resent[1].context_correlation, legacy.correlation_id);
    let assigned = &resent[1].envelope.id;
    assert!(!assigned.as_str().is_empty(), "no id was assigned");
    let copy = bench.copy_of(&legacy_slot).await.expect("legacy copy");
    assert_eq!(&copy.envelope.id, assigned, "the assigned id was not kept");
    assert!(copy.published);
    let after = bench.stored().await;
    for old in &before {
        let new = after
            .iter()
            .find(|e| e.storage_id == old.storage_id)
            .expect("copy");
        assert_eq!(old.created, new.created, "republish changed created");
    }
}

/// An event published without a correlation id takes the caller's context's, or — with no
/// context — one made for the call, shared by a `publish_many`; an id the event carries wins.
/// The broker gets the event with it, the copy keeps it, and a republish sends each copy
/// inside it.
pub async fn correlation_comes_from_the_context_or_is_made<
    S: EventStore + Clone,
    P: EventPublisher + Clone,
>(
    bench: &Bench<S, P>,
) {
    let publisher = bench.publisher(WhenBrokerFails::Fail);
    let caller = unique("request");
    let in_context = || Context::correlated(caller.clone());
    let inherits = event(&bench.topic, "a", "inherits");
    let mut carries = event(&bench.topic, "b", "carries its own");
    carries.correlation_id = Some(unique("own"));
    context::scope(in_context(), publisher.publish(&inherits))
        .await
        .expect("publish in context");
    context::scope(in_context(), publisher.publish(&carries))
        .await
        .expect("publish with an id of its own");
    let fresh = [
        event(&bench.topic, "c", "new"),
        event(&bench.topic, "d", "new"),
    ];
    publisher
        .publish_many(&fresh)
        .await
        .expect("publish without context");

    let sent = bench.recorder.sent();
    let ids: Vec<Option<&str>> = sent
        .iter()
        .map(|s| s.envelope.correlation_id.as_deref())
        .collect();
    let made = ids[2].expect("an id made for the call");
    assert_eq!(
        ids,
        [
            Some(caller.as_str()),
            carries.correlation_id.as_deref(),
            Some(made),
            Some(made)
        ]
    );
    assert_ne!(made, caller);
    assert_eq!(
        sent[0].context_correlation.as_deref(),
        Some(caller.as_str())
    );
    for first in &sent {
        let copy = bench
            .copy_of(first.envelope.id.as_str())
            .await
            .expect("copy");
        assert_eq!(copy.envelope.correlation_id, first.envelope.correlation_id);
    }

    context::scope(Context::correlated("another caller"), publisher.republish())
        .await
        .expect("republish");
    for again in &bench.recorder.sent()[sent.len()..] {
        let first = sent
            .iter()
            .find(|s| s.envelope.id == again.envelope.id)
            .expect("sent before");
        assert_eq!(again.context_correlation, first.envelope.correlation_id);
        assert_eq!(again.envelope.correlation_id, first.envelope.correlation_id);
    }
}

/// An event given as its parts (hexkit's `publish(payload, type_, key, topic, headers)`) or
/// as a `Message` is stored and sent like an envelope, its headers as extensions.
pub async fn publish_from_a_message_or_its_parts<
    S: EventStore + Clone,
    P: EventPublisher + Clone,
>(
    bench: &Bench<S, P>,
) {
    let publisher = bench.publisher(WhenBrokerFails::Fail);
    let parts = tidings_persistent::EventParts::new(
        serde_json::json!({ "name": "Ada" }),
        "user.registered",
        "user-1",
        &bench.topic,
    )
    .with_header("tenant", "acme");
    let from_parts = publisher
        .publish_parts(&parts)
        .await
        .expect("publish parts");
    let message = tidings_core::DynamicEvent::new(
        "user-1",
        "user",
        "user.renamed",
        serde_json::json!({ "name": "Ada L." }),
        &bench.topic,
    );
    let from_message = publisher
        .publish_message(&message)
        .await
        .expect("publish a message");

    let sent = bench.recorder.sent();
    assert_eq!(bench.sent_ids(), [from_parts.clone(), from_message]);
    let first = &sent[0].envelope;
    assert_eq!(
        (
            first.message_type.as_str(),
            first.key.as_str(),
            first.topic.as_str()
        ),
        ("user.registered", "user-1", bench.topic.as_str())
    );
    assert_eq!(first.payload, br#"{"name":"Ada"}"#);
    assert_eq!(
        first.extensions.get("tenant"),
        Some(&ExtensionValue::String("acme".to_owned()))
    );
    assert!(first.correlation_id.is_some(), "no correlation id");
    let copy = bench.copy_of(from_parts.as_str()).await.expect("a copy");
    assert_eq!(copy.envelope.extensions, first.extensions);
    assert!(copy.published);
}

fn typed(topic: &str, key: &str, content_type: &str, payload: &[u8]) -> Envelope {
    Envelope::new(
        topic,
        key,
        "conformance.event",
        content_type,
        payload.to_vec(),
    )
}

/// A JSON payload is kept as JSON (where the store has a probe, in the store's own JSON type)
/// and sent again as the same value; a JSON payload no store could keep unchanged, and a
/// binary one, stay bytes and go out byte for byte.
pub async fn json_payloads_are_kept_as_json<S: EventStore + Clone, P: EventPublisher + Clone>(
    bench: &Bench<S, P>,
) {
    let value = serde_json::json!({
        "order": "o-1", "total": 12.5, "count": 3, "paid": true, "note": null,
        "lines": [{ "sku": "a-1", "qty": 2 }, { "sku": "b-2", "qty": 1 }],
    });
    let json = typed(
        &bench.topic,
        "k",
        "application/json",
        &serde_json::to_vec(&value).unwrap_or_default(),
    );
    let operator = typed(
        &bench.topic,
        "k",
        "application/json",
        br#"{"$set": {"a": 1}}"#,
    );
    let binary = typed(
        &bench.topic,
        "k",
        "application/octet-stream",
        &[0, 159, 146, 150],
    );
    let events = [json.clone(), operator.clone(), binary.clone()];
    let publisher = bench.publisher(WhenBrokerFails::Fail);
    publisher.publish_many(&events).await.expect("publish");

    if let Some(probe) = &bench.probe {
        let kept = |e: &Envelope| probe(bench.store.inner.clone(), e.id.to_string());
        assert_eq!(kept(&json).await, Some(value.clone()), "not kept as JSON");
        assert_eq!(kept(&operator).await, None, "an operator key kept as JSON");
        assert_eq!(kept(&binary).await, None, "bytes kept as JSON");
    }
    let parsed = |payload: &[u8]| serde_json::from_slice::<serde_json::Value>(payload).ok();
    let copy = bench.copy_of(json.id.as_str()).await.expect("a copy");
    assert_eq!(parsed(&copy.envelope.payload), Some(value.clone()));
    for bytes in [&operator, &binary] {
        let copy = bench.copy_of(bytes.id.as_str()).await.expect("a copy");
        assert_eq!(
            copy.envelope.payload, bytes.payload,
            "bytes changed in the store"
        );
    }
    publisher
        .republish_topic(&bench.topic)
        .await
        .expect("republish");
    let resent: Vec<Envelope> = bench.recorder.sent()[3..]
        .iter()
        .map(|s| s.envelope.clone())
        .collect();
    assert_eq!(resent.len(), 3, "not every copy sent again");
    assert_eq!(
        parsed(&resent[0].payload),
        Some(value),
        "the JSON value changed"
    );
    assert_eq!(resent[1].payload, operator.payload);
    assert_eq!(resent[2].payload, binary.payload);
}

/// Republishing one topic sends that topic's copies, in order, and nothing of another topic.
pub async fn republish_topic_sends_that_topic_only<
    S: EventStore + Clone,
    P: EventPublisher + Clone,
>(
    bench: &Bench<S, P>,
) {
    let publisher = bench.publisher(WhenBrokerFails::Fail);
    let other = unique("other");
    let ours = [
        event(&bench.topic, "k", "one"),
        event(&bench.topic, "k", "two"),
    ];
    publisher
        .publish_many(&[
            ours[0].clone(),
            event(&other, "k", "elsewhere"),
            ours[1].clone(),
        ])
        .await
        .expect("publish");
    let report = publisher
        .republish_topic(&bench.topic)
        .await
        .expect("republish one topic");
    assert_eq!(report.sent, 2);
    let resent: Vec<MessageId> = bench.sent_ids()[3..].to_vec();
    assert_eq!(resent, [ours[0].id.clone(), ours[1].id.clone()]);
}

pub(crate) type CaseFn<S, P> =
    for<'a> fn(&'a Bench<S, P>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        vec![$((stringify!($name), (|b| Box::pin($name(b))) as CaseFn<S, P>)),*]
    };
}

/// Every case of the persistent publisher's suite, by name.
pub(crate) fn cases<S, P>() -> Vec<(&'static str, CaseFn<S, P>)>
where
    S: EventStore + Clone + 'static,
    P: EventPublisher + Clone + 'static,
{
    cases![
        publish_stores_sends_and_marks,
        broker_down_keeps_copies_for_publish_pending,
        compacted_topics_keep_the_latest_per_key,
        unstored_topics_are_sent_without_a_copy,
        publish_many_takes_one_round_trip_each,
        republish_sends_everything_again,
        republish_topic_sends_that_topic_only,
        correlation_comes_from_the_context_or_is_made,
        publish_from_a_message_or_its_parts,
        json_payloads_are_kept_as_json,
    ]
}
