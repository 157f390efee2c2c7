use std::{future::Future, time::Duration};

use rdkafka::{
    Message as _,
    consumer::{CommitMode, Consumer, StreamConsumer},
    error::{KafkaError, RDKafkaErrorCode},
    message::BorrowedMessage,
};
use tidings_core::{
    BoxError, Envelope, Error, InboxRepository, OutboxRepository, Result, RetryPolicy,
    cloudevents::{self, Record},
};
use tidings_uow::{Handled, UnitOfWork, UnitOfWorkError, Work};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use crate::{KafkaConfig, KafkaPublisher, config::millis};

/// Header of a dead-lettered record that says why it was given up.
pub const ERROR_HEADER: &str = "tidings-error";
/// Header of a dead-lettered record naming the topic it came from.
pub const ORIGINAL_TOPIC_HEADER: &str = "tidings-original-topic";
/// Header of a dead-lettered record with its original partition and offset (`partition/offset`).
pub const ORIGINAL_POSITION_HEADER: &str = "tidings-original-position";

/// Applies one event inside a unit of work: write the effects with `work.transaction()`, stage
/// outgoing events with `work.stage(..)`. The inbox claim is already made in the same
/// transaction; returning an error rolls everything back and the record is retried.
pub trait EventHandler<Tx>: Send + Sync {
    /// Applies `event`.
    fn handle(
        &self,
        work: &mut Work<Tx>,
        event: &Envelope,
    ) -> impl Future<Output = std::result::Result<(), BoxError>> + Send;
}

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

    /// Sets `session.timeout.ms`.
    pub fn with_session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }
}

/// What a consumer has done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerReport {
    /// Records applied (their unit of work committed).
    pub applied: u64,
    /// Records skipped because the inbox had them already.
    pub duplicates: u64,
    /// Records that are not valid CloudEvents, sent to the dead-letter topic.
    pub malformed: u64,
    /// Records whose handler kept failing, sent to the dead-letter topic.
    pub dead_lettered: u64,
    /// Failed attempts that were retried.
    pub retries: u64,
}

impl ConsumerReport {
    /// Records finished one way or another.
    pub fn processed(&self) -> u64 {
        self.applied + self.duplicates + self.malformed + self.dead_lettered
    }
}

/// The idempotent Kafka consumer: each record is decoded, applied by the handler in a unit of
/// work that also claims its id in the inbox, and only then is its offset stored for commit.
/// A record that fails is retried with backoff and, after `max_attempts`, sent to the
/// dead-letter topic with the error in the [`ERROR_HEADER`] header; a record that is not a valid
/// CloudEvent goes there at once. Neither ever stops the loop or holds the partition for ever.
/// A backend that is down (transient errors) is retried until it is back or shutdown.
pub struct KafkaConsumer<B> {
    consumer: StreamConsumer,
    dead_letters: KafkaPublisher,
    uow: UnitOfWork<B>,
    config: ConsumerConfig,
    progress: watch::Sender<ConsumerReport>,
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
        let defaults = [
            ("group.id", consumer.group_id.clone()),
            ("enable.auto.commit", "true".to_owned()),
            // Offsets are stored by hand, after the unit of work commits; auto-commit only
            // sends what was stored.
            ("enable.auto.offset.store", "false".to_owned()),
            ("auto.offset.reset", "earliest".to_owned()),
            ("session.timeout.ms", millis(consumer.session_timeout)),
        ];
        let stream: StreamConsumer = kafka
            .client_config(&defaults)
            .create()
            .map_err(|e| Error::Configuration(format!("cannot create a Kafka consumer: {e}")))?;
        let topics: Vec<&str> = consumer.topics.iter().map(String::as_str).collect();
        stream.subscribe(&topics).map_err(Error::unavailable)?;
        let uow = uow.with_consumer(&consumer.group_id);
        Ok(Self {
            consumer: stream,
            dead_letters: KafkaPublisher::new(kafka)?,
            uow,
            config: consumer,
            progress: watch::Sender::new(ConsumerReport::default()),
        })
    }

    /// Follows the report as the consumer works.
    pub fn progress(&self) -> watch::Receiver<ConsumerReport> {
        self.progress.subscribe()
    }

    /// Consumes until `shutdown` is cancelled, then commits the stored offsets and returns the
    /// report. The record in hand when shutdown comes is finished first. Returns an error only
    /// when a record can neither be applied nor dead-lettered (its offset is not committed, so
    /// it comes back after a restart).
    pub async fn run<H>(&self, handler: &H, shutdown: CancellationToken) -> Result<ConsumerReport>
    where
        H: EventHandler<B::Transaction>,
    {
        info!(group = %self.config.group_id, topics = ?self.config.topics, "consumer started");
        let result = loop {
            let message = tokio::select! {
                () = shutdown.cancelled() => break Ok(()),
                message = self.consumer.recv() => message,
            };
            let message = match message {
                Ok(message) => message,
                Err(error) => {
                    metrics::counter!("tidings_consumer_errors_total").increment(1);
                    warn!(%error, "receiving failed; trying again");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            if let Err(error) = self.process(&message, handler, &shutdown).await {
                break Err(error);
            }
            if let Err(error) = self.consumer.store_offset_from_message(&message) {
                warn!(%error, "storing the offset failed; the record may be delivered again");
            }
        };
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => warn!(%error, "committing offsets at shutdown failed"),
        }
        info!(group = %self.config.group_id, "consumer stopped");
        result.map(|()| self.progress.borrow().clone())
    }

    async fn process<H>(
        &self,
        message: &BorrowedMessage<'_>,
        handler: &H,
        shutdown: &CancellationToken,
    ) -> Result<()>
    where
        H: EventHandler<B::Transaction>,
    {
        let record = crate::record::to_record(message);
        let position = format!("{}/{}", message.partition(), message.offset());
        let span = info_span!("tidings.consume.record", topic = %record.topic, %position);
        async {
            let event = match cloudevents::decode(&record) {
                Ok(event) => event,
                Err(error) => {
                    self.dead_letter(&record, &position, &error.to_string())
                        .await?;
                    self.update(|r| r.malformed += 1);
                    return Ok(());
                }
            };
            let mut attempts = 0;
            loop {
                let outcome = self
                    .uow
                    .handle(&event, async |work| handler.handle(work, &event).await)
                    .await;
                let error = match outcome {
                    Ok(Handled::Applied(())) => {
                        self.update(|r| r.applied += 1);
                        return Ok(());
                    }
                    Ok(Handled::Duplicate) => {
                        self.update(|r| r.duplicates += 1);
                        return Ok(());
                    }
                    Err(UnitOfWorkError::Tidings(error)) if error.is_transient() => {
                        // The database is down or another transaction got in the way, not the
                        // record's fault: wait, do not count.
                        warn!(%error, "backend unavailable or a conflicting transaction; retrying the record");
                        if shutdown.is_cancelled() {
                            return Err(error);
                        }
                        tokio::time::sleep(self.config.retry.max_delay.min(Duration::from_secs(1)))
                            .await;
                        continue;
                    }
                    Err(error) => error.to_string(),
                };
                attempts += 1;
                if self.config.retry.is_exhausted(attempts) {
                    warn!(id = %event.id, attempts, %error, "record dead-lettered");
                    self.dead_letter(&record, &position, &error).await?;
                    self.update(|r| r.dead_lettered += 1);
                    return Ok(());
                }
                self.update(|r| r.retries += 1);
                tokio::time::sleep(self.config.retry.delay(attempts, fastrand::f64())).await;
            }
        }
        .instrument(span)
        .await
    }

    fn update(&self, change: impl FnOnce(&mut ConsumerReport)) {
        self.progress.send_modify(change);
    }

    async fn dead_letter(&self, record: &Record, position: &str, error: &str) -> Result<()> {
        let topic = self
            .config
            .dead_letter_topic
            .clone()
            .unwrap_or_else(|| format!("{}.dlq", record.topic));
        let mut dead = record.clone();
        dead.topic = topic;
        dead.headers
            .push((ERROR_HEADER.to_owned(), error.as_bytes().to_vec()));
        dead.headers.push((
            ORIGINAL_TOPIC_HEADER.to_owned(),
            record.topic.as_bytes().to_vec(),
        ));
        dead.headers.push((
            ORIGINAL_POSITION_HEADER.to_owned(),
            position.as_bytes().to_vec(),
        ));
        metrics::counter!("tidings_consumer_dead_lettered_total").increment(1);
        self.dead_letters.send_record(&dead).await
    }
}
