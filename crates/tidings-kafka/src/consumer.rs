use std::time::Duration;

use tidings_core::{InboxRepository, OutboxRepository, Result, RetryPolicy, wire::HeaderProfile};
use tidings_uow::{
    UnitOfWork,
    consume::{ConsumeConfig, Consumer, ConsumerReport, EventHandler},
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::{KafkaConfig, source::KafkaSource};

/// How a [`KafkaConsumer`] consumes.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ConsumerConfig {
    /// Consumer group; also the consumer name in the inbox.
    pub group_id: String,
    /// Topics to subscribe to.
    pub topics: Vec<String>,
    /// Where records that cannot be applied go; `None` means `<topic>.dlq`.
    pub dead_letter_topic: Option<String>,
    /// Retries of a failing handler before the record is dead-lettered.
    pub retry: RetryPolicy,
    /// `session.timeout.ms`: how fast the group notices a dead consumer.
    pub session_timeout: Duration,
    /// The headers records carry their attributes in (strict CloudEvents by default).
    pub headers: HeaderProfile,
}

impl ConsumerConfig {
    /// Consumes `topics` as group `group_id`, retrying a failing handler 5 times from 200 ms
    /// up to 10 s apart before dead-lettering.
    pub fn new(group_id: impl Into<String>, topics: &[&str]) -> Self {
        Self {
            group_id: group_id.into(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            dead_letter_topic: None,
            retry: RetryPolicy::default()
                .with_max_attempts(5)
                .with_delays(Duration::from_millis(200), Duration::from_secs(10)),
            session_timeout: Duration::from_secs(10),
            headers: HeaderProfile::default(),
        }
    }

    /// Sends dead letters to `topic`.
    pub fn with_dead_letter_topic(mut self, topic: impl Into<String>) -> Self {
        self.dead_letter_topic = Some(topic.into());
        self
    }

    /// Sets the retry policy of failing handlers.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Reads records as `headers` says: [`HeaderProfile::Hexkit`] (or the combined profile)
    /// also takes events that GHGA hexkit's publisher sent.
    pub fn with_headers(mut self, headers: HeaderProfile) -> Self {
        self.headers = headers;
        self
    }

    /// Sets `session.timeout.ms`.
    pub fn with_session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }
}

/// The idempotent Kafka consumer: the consume engine of `tidings-uow`
/// ([`Consumer`](tidings_uow::consume::Consumer)) over a [`KafkaSource`]. Each record is decoded,
/// applied by the handler in a unit of work that also claims its id in the inbox, and only then
/// is its offset stored for commit. A record that fails is retried with backoff and, after
/// `max_attempts`, sent to the dead-letter topic with the error in the [`ERROR_HEADER`](crate::ERROR_HEADER) header;
/// a record that is not a valid CloudEvent goes there at once. Partitions are applied
/// independently: a record being retried holds back its own partition only.
pub struct KafkaConsumer<B> {
    engine: Consumer<KafkaSource, B>,
    config: ConsumerConfig,
}

impl<B> std::fmt::Debug for KafkaConsumer<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConsumer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<B: OutboxRepository + InboxRepository> KafkaConsumer<B> {
    /// Subscribes to the topics in `consumer`, applying records through `uow` (whose consumer
    /// name is set to the group id).
    pub fn new(kafka: &KafkaConfig, consumer: ConsumerConfig, uow: UnitOfWork<B>) -> Result<Self> {
        let source = KafkaSource::new(kafka, &consumer)?;
        let engine = Consumer::new(
            source,
            uow.with_consumer(&consumer.group_id),
            ConsumeConfig::default()
                .with_retry(consumer.retry.clone())
                .with_headers(consumer.headers),
        );
        Ok(Self {
            engine,
            config: consumer,
        })
    }

    /// Follows the report as the consumer works.
    pub fn progress(&self) -> watch::Receiver<ConsumerReport> {
        self.engine.progress()
    }

    /// Consumes until `shutdown` is cancelled, then commits the stored offsets and returns the
    /// report. Each partition finishes the record in hand first. Returns an error only when a
    /// record can neither be applied nor dead-lettered (its offset is not committed, so it
    /// comes back after a restart).
    pub async fn run<H>(&self, handler: &H, shutdown: CancellationToken) -> Result<ConsumerReport>
    where
        H: EventHandler<B::Transaction>,
    {
        info!(group = %self.config.group_id, topics = ?self.config.topics, "consuming");
        self.engine.run(handler, shutdown).await
    }
}
