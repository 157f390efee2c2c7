//! The persistent publisher (after the GHGA hexkit design): it keeps a copy of every event it
//! sends, so that events the broker did not take can be sent later ([`publish_pending`]) and a
//! topic can be rebuilt from the copies ([`republish`]).
//!
//! - A copy is stored before sending and marked published after the broker acknowledges.
//! - On a compacted topic only the latest event of a key is kept, under `<topic>:<key>`;
//!   elsewhere each event is kept under its id. Topics configured as not stored are sent
//!   without a copy. A topic in both sets is a configuration error.
//! - When the broker fails, [`WhenBrokerFails`] decides between an error and carrying on;
//!   either way the copy stays unpublished for [`publish_pending`].
//! - An event published without a correlation id takes the current [`context`]'s, or — with
//!   none — one made for the call (shared by the events of one `publish_many`). It is stored
//!   with the copy, and a re-sent copy goes out inside it, so consumers see one conversation.
//!
//! [`publish_pending`]: PersistentPublisher::publish_pending
//! [`republish`]: PersistentPublisher::republish

mod parts;

use std::{
    borrow::Cow,
    collections::{BTreeSet, HashMap, HashSet},
    sync::Arc,
};

use chrono::Utc;
use tracing::warn;

pub use parts::EventParts;
use tidings_core::{
    Envelope, EnvelopeFactory, Error, EventPublisher, EventStore, Message, MessageId, Result,
    StoredEvent, StoredEventQuery,
    context::{self, Context},
};

/// What [`PersistentPublisher::publish_many`] does when the broker does not take an event
/// that was stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum WhenBrokerFails {
    /// Return the broker's error (the copy is kept for `publish_pending`).
    #[default]
    Fail,
    /// Log it and return `Ok`: the event is stored and goes out with `publish_pending`.
    KeepForLater,
}

/// Which topics are compacted, which are not stored, and what a broker failure does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersistentConfig {
    compacted: BTreeSet<String>,
    unstored: BTreeSet<String>,
    when_broker_fails: WhenBrokerFails,
}

impl PersistentConfig {
    /// Every topic stored, none compacted, broker failures returned as errors.
    pub fn new() -> Self {
        Self::default()
    }

    /// Topics that keep only the latest event per key.
    pub fn compacted<T: Into<String>>(mut self, topics: impl IntoIterator<Item = T>) -> Self {
        self.compacted.extend(topics.into_iter().map(Into::into));
        self
    }

    /// Topics sent without keeping a copy.
    pub fn unstored<T: Into<String>>(mut self, topics: impl IntoIterator<Item = T>) -> Self {
        self.unstored.extend(topics.into_iter().map(Into::into));
        self
    }

    /// What a broker failure does.
    pub fn when_broker_fails(mut self, when: WhenBrokerFails) -> Self {
        self.when_broker_fails = when;
        self
    }

    /// Refuses a topic that is both compacted and not stored.
    pub fn check(&self) -> Result<()> {
        let both: Vec<&String> = self.compacted.intersection(&self.unstored).collect();
        if both.is_empty() {
            Ok(())
        } else {
            Err(Error::Configuration(format!(
                "topics cannot be both compacted and not stored: {both:?}"
            )))
        }
    }
}

/// What one call sent and kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublishReport {
    /// Events the broker acknowledged.
    pub sent: usize,
    /// Copies written (a compacted key sent twice in one batch is stored once).
    pub stored: usize,
    /// Stored events the broker did not take: they wait for `publish_pending`.
    pub pending: usize,
}

/// Sends events and keeps a copy of each in an [`EventStore`].
#[derive(Clone, Debug)]
pub struct PersistentPublisher<S, P> {
    store: S,
    publisher: P,
    config: PersistentConfig,
    factory: Arc<EnvelopeFactory>,
}

/// `envelopes`, each without a correlation id given the current context's, or one new id for
/// them all when there is no context to inherit.
fn correlated(envelopes: &[Envelope]) -> Cow<'_, [Envelope]> {
    if envelopes.iter().all(|e| e.correlation_id.is_some()) {
        return Cow::Borrowed(envelopes);
    }
    let inherited = context::current().and_then(|c| c.correlation_id);
    let id = inherited.unwrap_or_else(|| MessageId::new().to_string());
    let filled = envelopes
        .iter()
        .map(|envelope| {
            let mut envelope = envelope.clone();
            envelope.correlation_id.get_or_insert_with(|| id.clone());
            envelope
        })
        .collect();
    Cow::Owned(filled)
}

/// Events re-sent per page by `publish_pending` and `republish`.
const PAGE: usize = 500;

impl<S: EventStore, P: EventPublisher> PersistentPublisher<S, P> {
    /// A publisher sending through `publisher` and keeping copies in `store`. Fails if a topic
    /// is both compacted and not stored.
    pub fn new(store: S, publisher: P, config: PersistentConfig) -> Result<Self> {
        config.check()?;
        Ok(Self {
            store,
            publisher,
            config,
            factory: Arc::new(EnvelopeFactory::default()),
        })
    }

    /// Builds the envelopes of [`publish_message`](Self::publish_message) and
    /// [`publish_parts`](Self::publish_parts) with `factory` (its source, router, limits, id
    /// scheme).
    pub fn with_factory(mut self, factory: EnvelopeFactory) -> Self {
        self.factory = Arc::new(factory);
        self
    }

    /// Stores and sends `message`, its envelope built in the current context (so it inherits
    /// the caller's correlation id); returns its id.
    pub async fn publish_message<M: Message>(&self, message: &M) -> Result<MessageId> {
        let envelope = self
            .factory
            .envelope(message, context::current().as_ref())?;
        self.publish(&envelope).await?;
        Ok(envelope.id)
    }

    /// Stores and sends an event given as hexkit's `publish` takes one — payload, type, key,
    /// topic, id, headers; returns its id.
    pub async fn publish_parts(&self, parts: &EventParts) -> Result<MessageId> {
        self.publish_message(parts).await
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Where `envelope` is kept, or `None` on a topic that is not stored.
    pub fn storage_id(&self, envelope: &Envelope) -> Option<String> {
        if self.config.unstored.contains(&envelope.topic) {
            None
        } else if self.config.compacted.contains(&envelope.topic) {
            Some(format!("{}:{}", envelope.topic, envelope.key))
        } else {
            Some(envelope.id.to_string())
        }
    }

    /// Stores and sends one event.
    pub async fn publish(&self, envelope: &Envelope) -> Result<()> {
        self.publish_many(std::slice::from_ref(envelope))
            .await
            .map(|_| ())
    }

    /// Stores a batch with one write, sends it as one batch, and marks what the broker took
    /// with one more write. Order per key is kept: after a failure, the later events of that
    /// key are not sent (they stay stored and unpublished).
    pub async fn publish_many(&self, envelopes: &[Envelope]) -> Result<PublishReport> {
        let envelopes = correlated(envelopes);
        let envelopes = envelopes.as_ref();
        let mut slots: HashMap<String, usize> = HashMap::new();
        for (index, envelope) in envelopes.iter().enumerate() {
            if let Some(id) = self.storage_id(envelope) {
                slots.insert(id, index);
            }
        }
        let now = Utc::now();
        let mut latest: Vec<(String, usize)> = slots.into_iter().collect();
        latest.sort_by_key(|(_, index)| *index);
        let copies: Vec<StoredEvent> = latest
            .iter()
            .map(|(id, index)| StoredEvent::new(id.clone(), envelopes[*index].clone(), now))
            .collect();
        if !copies.is_empty() {
            self.store.store(&copies).await?;
        }
        let results = self.send(envelopes).await;
        let unstored_failure = envelopes.iter().zip(&results).find(|(envelope, result)| {
            result.is_err() && self.config.unstored.contains(&envelope.topic)
        });
        let report = self.settle(&latest, envelopes, &results).await?;
        if let Some((envelope, _)) = unstored_failure {
            // Nothing kept it: this one is lost unless the caller retries.
            return Err(Error::Publish {
                topic: envelope.topic.clone(),
                source: "the broker did not take an event of a topic that is not stored".into(),
            });
        }
        self.outcome(report, results)
    }

    /// Sends stored events not yet published, oldest first, and marks what the broker took.
    pub async fn publish_pending(&self) -> Result<PublishReport> {
        self.resend(StoredEventQuery::unpublished(PAGE), None).await
    }

    /// Sends every stored event again, oldest first, giving an id to any stored without one;
    /// `created` is left as it was. Use it to rebuild a topic.
    pub async fn republish(&self) -> Result<PublishReport> {
        self.resend(StoredEventQuery::all(PAGE), None).await
    }

    /// [`republish`](Self::republish) for the events of one topic only.
    pub async fn republish_topic(&self, topic: &str) -> Result<PublishReport> {
        self.resend(StoredEventQuery::all(PAGE), Some(topic)).await
    }

    async fn resend(
        &self,
        mut query: StoredEventQuery,
        topic: Option<&str>,
    ) -> Result<PublishReport> {
        let mut total = PublishReport::default();
        let mut failures = Vec::new();
        loop {
            let mut page = self.store.page(&query).await?;
            let Some(last) = page.last() else { break };
            query = query.after(last);
            // The store pages by creation, not by topic: other topics' events are skipped here.
            page.retain(|event| topic.is_none_or(|topic| event.envelope.topic == topic));
            let mut envelopes = Vec::with_capacity(page.len());
            for event in &page {
                let mut envelope = event.envelope.clone();
                if envelope.id.as_str().is_empty() {
                    let id = MessageId::new();
                    if self.store.assign_event_id(&event.storage_id, &id).await? {
                        envelope.id = id;
                    }
                }
                envelopes.push(envelope);
            }
            let slots: Vec<(String, usize)> = page
                .iter()
                .enumerate()
                .map(|(index, event)| (event.storage_id.clone(), index))
                .collect();
            let results = self.send(&envelopes).await;
            let report = self.settle(&slots, &envelopes, &results).await?;
            total.sent += report.sent;
            total.pending += report.pending;
            failures.extend(results.into_iter().filter(Result::is_err));
        }
        self.outcome(total, failures)
    }

    /// Marks the acknowledged copies published.
    async fn settle(
        &self,
        slots: &[(String, usize)],
        envelopes: &[Envelope],
        results: &[Result<()>],
    ) -> Result<PublishReport> {
        let acknowledged: Vec<(String, MessageId)> = slots
            .iter()
            .filter(|(_, index)| results[*index].is_ok())
            .map(|(id, index)| (id.clone(), envelopes[*index].id.clone()))
            .collect();
        if !acknowledged.is_empty() {
            self.store.mark_published(&acknowledged).await?;
        }
        Ok(PublishReport {
            sent: results.iter().filter(|r| r.is_ok()).count(),
            stored: slots.len(),
            pending: slots.len() - acknowledged.len(),
        })
    }

    fn outcome(&self, report: PublishReport, results: Vec<Result<()>>) -> Result<PublishReport> {
        let Some(error) = results.into_iter().find_map(Result::err) else {
            return Ok(report);
        };
        match self.config.when_broker_fails {
            WhenBrokerFails::Fail => Err(error),
            WhenBrokerFails::KeepForLater => {
                warn!(%error, pending = report.pending, "broker did not take every event; kept for publish_pending");
                Ok(report)
            }
        }
    }

    /// Sends `envelopes` in runs of one correlation id, each run inside that id's context, so
    /// a re-sent event carries the conversation it was first sent in. A key that fails is not
    /// sent again in a later run.
    async fn send(&self, envelopes: &[Envelope]) -> Vec<Result<()>> {
        let mut results: Vec<Result<()>> = Vec::with_capacity(envelopes.len());
        let mut failed: HashSet<String> = HashSet::new();
        let mut start = 0;
        while start < envelopes.len() {
            let correlation = &envelopes[start].correlation_id;
            let end = envelopes[start..]
                .iter()
                .position(|e| &e.correlation_id != correlation)
                .map_or(envelopes.len(), |n| start + n);
            let (held, sendable): (Vec<usize>, Vec<usize>) =
                (start..end).partition(|&i| failed.contains(&envelopes[i].key));
            let batch: Vec<Envelope> = sendable.iter().map(|&i| envelopes[i].clone()).collect();
            let sent = match correlation {
                Some(id) => {
                    context::scope(
                        Context::correlated(id),
                        self.publisher.publish_batch(&batch),
                    )
                    .await
                }
                None => self.publisher.publish_batch(&batch).await,
            };
            let mut outcome: HashMap<usize, Result<()>> = sendable.into_iter().zip(sent).collect();
            for index in held {
                outcome.insert(
                    index,
                    Err(Error::Publish {
                        topic: envelopes[index].topic.clone(),
                        source: "not sent: an earlier event of the same key failed".into(),
                    }),
                );
            }
            for (index, envelope) in envelopes.iter().enumerate().take(end).skip(start) {
                let result = outcome.remove(&index).unwrap_or_else(|| {
                    Err(Error::Publish {
                        topic: envelope.topic.clone(),
                        source: "the publisher returned no result for this event".into(),
                    })
                });
                if result.is_err() {
                    failed.insert(envelope.key.clone());
                }
                results.push(result);
            }
            start = end;
        }
        results
    }
}
