use std::{
    collections::HashSet,
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures_util::future::join_all;
use rdkafka::{
    ClientConfig, Message as _,
    error::{KafkaError, RDKafkaErrorCode},
    message::{Header, Headers as _, OwnedHeaders, OwnedMessage},
    producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer},
};
use tidings_core::{
    Envelope, Error, EventPublisher, PublishOutcome, Result,
    cloudevents::{ContentMode, Record},
    validate_topic,
    wire::{self, HeaderProfile},
};

use tracing::warn;

use crate::{
    KafkaConfig,
    config::millis,
    creation::{Creator, TopicCreation},
};

/// Publishes envelopes to Kafka as CloudEvents with an idempotent producer (`acks=all`), the
/// partition key as the record key.
///
/// A batch is sent with every record in flight at once and returns after each delivery report.
/// An invalid topic name or a record larger than the limit fails before anything is sent, and
/// so do the later envelopes of the same key in the batch, keeping the key's order.
///
/// Two producers share the work. Small batches — a relay keeping up with live traffic — go
/// through one with `linger.ms=0`, so an event leaves as soon as it is claimed; large batches —
/// a relay draining a backlog — go through one that lingers, so librdkafka packs them into few
/// requests. A batch returns only after every report, and a key's next rows are claimed only
/// after that, so switching producers between batches never reorders a key.
///
/// A producer that hits a fatal error (say, fenced after an epoch bump the broker refused) is
/// replaced by a new one for the next batch, so a long-running relay recovers on its own.
#[derive(Clone)]
pub struct KafkaPublisher {
    producers: Arc<RwLock<Arc<Producers>>>,
    configs: Arc<(ClientConfig, ClientConfig)>,
    prompt_below: usize,
    mode: ContentMode,
    headers: HeaderProfile,
    max_message_bytes: usize,
    creator: Option<Arc<Creator>>,
}

/// The lingering producer and the prompt one, replaced together.
struct Producers {
    bulk: FutureProducer,
    prompt: FutureProducer,
    /// Set when a delivery failed in a way that leaves the producer's idempotence state
    /// unusable (fenced, epoch or sequence out of step): every later send would fail too.
    stuck: AtomicBool,
}

impl Producers {
    fn new(configs: &(ClientConfig, ClientConfig)) -> Result<Self> {
        let create = |client: &ClientConfig| -> Result<FutureProducer> {
            client
                .create()
                .map_err(|e| Error::Configuration(format!("cannot create a Kafka producer: {e}")))
        };
        Ok(Self {
            bulk: create(&configs.0)?,
            prompt: create(&configs.1)?,
            stuck: AtomicBool::new(false),
        })
    }

    fn fatal_error(&self) -> Option<String> {
        [&self.bulk, &self.prompt]
            .into_iter()
            .find_map(|p| p.client().fatal_error())
            .map(|(code, reason)| format!("{code:?}: {reason}"))
            .or_else(|| {
                self.stuck
                    .load(Ordering::Relaxed)
                    .then(|| "its idempotent producer state was refused".to_owned())
            })
    }

    /// Waits for `delivery`, noting whether its failure leaves the producer stuck. A record
    /// the broker refused as too large is reported with its size against `limit`.
    async fn delivered(&self, topic: &str, delivery: DeliveryFuture, limit: usize) -> Result<()> {
        match delivery.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((error, message))) => {
                if matches!(
                    error.rdkafka_error_code(),
                    Some(
                        RDKafkaErrorCode::ProducerFenced
                            | RDKafkaErrorCode::InvalidProducerEpoch
                            | RDKafkaErrorCode::OutOfOrderSequenceNumber
                            | RDKafkaErrorCode::UnknownProducerId
                            | RDKafkaErrorCode::Fatal
                    )
                ) {
                    self.stuck.store(true, Ordering::Relaxed);
                }
                Err(publish_error(topic, error, message_size(&message), limit))
            }
            Err(_) => Err(Error::Publish {
                topic: topic.to_owned(),
                source: "the producer was dropped before delivery".into(),
            }),
        }
    }
}

impl std::fmt::Debug for KafkaPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaPublisher")
            .field("mode", &self.mode)
            .field("headers", &self.headers)
            .field("max_message_bytes", &self.max_message_bytes)
            .field(
                "topic_creation",
                &self.creator.as_ref().map(|c| c.creation()),
            )
            .finish_non_exhaustive()
    }
}

/// Kafka's default `message.max.bytes`.
const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_048_588;

/// Batches smaller than this go through the producer that does not linger.
const DEFAULT_PROMPT_BELOW: usize = 64;

impl KafkaPublisher {
    /// A publisher for the cluster in `config`. Tidings sets `enable.idempotence=true`,
    /// `acks=all`, `linger.ms=1` for large batches (0 for small ones, see
    /// [`with_prompt_below`](Self::with_prompt_below)), `compression.type=lz4` and
    /// `message.timeout.ms=20000` (shorter than the relay's default 30 s lease); any of them
    /// can be overridden through [`KafkaConfig::with_property`].
    pub fn new(config: &KafkaConfig) -> Result<Self> {
        let defaults = [
            ("enable.idempotence", "true".to_owned()),
            ("acks", "all".to_owned()),
            ("linger.ms", "1".to_owned()),
            ("message.timeout.ms", millis(Duration::from_secs(20))),
            ("queue.buffering.max.messages", "1000000".to_owned()),
            ("compression.type", "lz4".to_owned()),
        ];
        let mut prompt = config.client_config(&defaults)?;
        prompt.set("linger.ms", "0");
        let configs = (config.client_config(&defaults)?, prompt);
        Ok(Self {
            producers: Arc::new(RwLock::new(Arc::new(Producers::new(&configs)?))),
            configs: Arc::new(configs),
            prompt_below: DEFAULT_PROMPT_BELOW,
            mode: ContentMode::Binary,
            headers: HeaderProfile::CloudEvents,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            creator: None,
        })
    }

    /// Creates each topic not seen before ahead of its first event, as `creation` says (an
    /// existing topic is left as it is), through an admin client on the cluster of `config`.
    pub fn with_topic_creation(
        mut self,
        config: &KafkaConfig,
        creation: TopicCreation,
    ) -> Result<Self> {
        self.creator = Some(Arc::new(Creator::new(config, creation)?));
        Ok(self)
    }

    /// Sends batches of fewer than `events` events without lingering (default 64; 0 makes
    /// every batch linger). Below it latency matters more than packing records together.
    pub fn with_prompt_below(mut self, events: usize) -> Self {
        self.prompt_below = events;
        self
    }

    /// Sends CloudEvents in `mode` (binary by default).
    pub fn with_mode(mut self, mode: ContentMode) -> Self {
        self.mode = mode;
        self
    }

    /// Writes each event's attributes as `headers` says: CloudEvents (the default), hexkit's
    /// `type` / `event_id` / `correlation_id` headers and JSON value so that a service built on
    /// GHGA hexkit reads them, or both. An event hexkit cannot carry fails before it is sent
    /// (see [`tidings_core::wire`]).
    pub fn with_headers(mut self, headers: HeaderProfile) -> Self {
        self.headers = headers;
        self
    }

    /// Refuses records larger than `bytes` (key, headers and value) before sending; keep it at
    /// or below the broker's `message.max.bytes`.
    pub fn with_max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// The producer for large batches and raw records (the current one: it is replaced after
    /// a fatal error).
    pub fn producer(&self) -> FutureProducer {
        self.current().bulk.clone()
    }

    /// Waits up to `timeout` (for each producer) for every queued record to be delivered.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        let producers = self.current();
        producers.bulk.flush(timeout).map_err(Error::unavailable)?;
        producers.prompt.flush(timeout).map_err(Error::unavailable)
    }

    fn current(&self) -> Arc<Producers> {
        Arc::clone(
            &self
                .producers
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Replaces `used` if it has failed fatally and nobody has replaced it yet.
    fn recover(&self, used: &Arc<Producers>) {
        let Some(error) = used.fatal_error() else {
            return;
        };
        let mut current = self
            .producers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if !Arc::ptr_eq(&current, used) {
            return;
        }
        match Producers::new(&self.configs) {
            Ok(fresh) => {
                warn!(%error, "Kafka producer failed fatally; replaced it");
                *current = Arc::new(fresh);
            }
            Err(replacement) => {
                warn!(%error, %replacement, "Kafka producer failed fatally and cannot be replaced");
            }
        }
    }

    fn encode(&self, envelope: &Envelope) -> Result<Record> {
        validate_topic(&envelope.topic)?;
        let record = wire::encode(envelope, self.mode, self.headers)?;
        let size = record.size();
        if size > self.max_message_bytes {
            return Err(Error::PayloadTooLarge {
                size,
                limit: self.max_message_bytes,
            });
        }
        Ok(record)
    }

    /// Puts `record` into the producer's queue, waiting while the queue is full. Records are
    /// enqueued one after the other, so the queue holds them in the batch's order.
    async fn enqueue(&self, producer: &FutureProducer, record: &Record) -> Result<DeliveryFuture> {
        let headers = record.headers.iter().fold(
            OwnedHeaders::new_with_capacity(record.headers.len()),
            |headers, (key, value)| {
                headers.insert(Header {
                    key,
                    value: Some(value),
                })
            },
        );
        let mut future_record = FutureRecord::to(&record.topic)
            .payload(&record.value)
            .headers(headers);
        if let Some(key) = &record.key {
            future_record = future_record.key(key);
        }
        loop {
            match producer.send_result(future_record) {
                Ok(delivery) => return Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    future_record = returned;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((error, _)) => {
                    let size = record.size();
                    return Err(publish_error(
                        &record.topic,
                        error,
                        size,
                        self.max_message_bytes,
                    ));
                }
            }
        }
    }
}

impl KafkaPublisher {
    /// Sends a raw record (e.g. a dead letter) and waits for its delivery report.
    pub async fn send_record(&self, record: &Record) -> Result<()> {
        let producers = self.current();
        let delivery = self.enqueue(&producers.bulk, record).await?;
        let result = producers
            .delivered(&record.topic, delivery, self.max_message_bytes)
            .await;
        if result.is_err() {
            self.recover(&producers);
        }
        result
    }
}

/// The bytes of a record as the broker counts them (see [`Record::size`]).
fn message_size(message: &OwnedMessage) -> usize {
    let headers = message.headers().map_or(0, |headers| {
        headers
            .iter()
            .map(|h| h.key.len() + h.value.map_or(0, <[u8]>::len))
            .sum()
    });
    message.payload().map_or(0, <[u8]>::len) + message.key().map_or(0, <[u8]>::len) + headers
}

/// What a send's `error` means; a record of `size` bytes refused as too large names its size
/// and the publisher's `limit` (the broker's own may be lower).
fn publish_error(topic: &str, error: KafkaError, size: usize, limit: usize) -> Error {
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::InvalidMessageSize) => {
            Error::PayloadTooLarge { size, limit }
        }
        Some(RDKafkaErrorCode::InvalidTopic) => Error::InvalidTopic {
            topic: topic.to_owned(),
            reason: "the broker refused the topic name",
        },
        _ => Error::Publish {
            topic: topic.to_owned(),
            source: Box::new(error),
        },
    }
}

impl EventPublisher for KafkaPublisher {
    async fn publish_batch(&self, envelopes: &[Envelope]) -> PublishOutcome {
        // A topic that could not be made fails its own events (and the rest of their keys),
        // not the batch.
        let uncreated = match &self.creator {
            Some(creator) => creator.ensure(envelopes).await,
            None => Default::default(),
        };
        let mut failed_keys: HashSet<&str> = HashSet::new();
        // `None` while the record is in flight.
        let mut outcome: Vec<Option<Result<()>>> = Vec::with_capacity(envelopes.len());
        let mut deliveries = Vec::with_capacity(envelopes.len());
        let producers = self.current();
        let producer = if envelopes.len() < self.prompt_below {
            &producers.prompt
        } else {
            &producers.bulk
        };
        // Every record goes into the producer's queue, in order, before any report is awaited,
        // so the batch travels in as few requests as librdkafka can make.
        for (index, envelope) in envelopes.iter().enumerate() {
            if failed_keys.contains(envelope.key.as_str()) {
                outcome.push(Some(Err(Error::Publish {
                    topic: envelope.topic.clone(),
                    source: "not sent: an earlier event of the same key was refused".into(),
                })));
                continue;
            }
            if let Some(reason) = uncreated.get(&envelope.topic) {
                failed_keys.insert(envelope.key.as_str());
                outcome.push(Some(Err(Error::Publish {
                    topic: envelope.topic.clone(),
                    source: format!("topic {} could not be created: {reason}", envelope.topic)
                        .into(),
                })));
                continue;
            }
            let queued = match self.encode(envelope) {
                Ok(record) => self.enqueue(producer, &record).await,
                Err(error) => Err(error),
            };
            match queued {
                Ok(delivery) => {
                    outcome.push(None);
                    deliveries.push((index, delivery));
                }
                Err(error) => {
                    failed_keys.insert(envelope.key.as_str());
                    outcome.push(Some(Err(error)));
                }
            }
        }
        let used = &producers;
        let reports = join_all(deliveries.into_iter().map(|(index, delivery)| async move {
            (
                index,
                used.delivered(&envelopes[index].topic, delivery, self.max_message_bytes)
                    .await,
            )
        }))
        .await;
        let mut failed = false;
        for (index, report) in reports {
            failed |= report.is_err();
            outcome[index] = Some(report);
        }
        if failed {
            self.recover(&producers);
        }
        outcome.into_iter().map(|o| o.unwrap_or(Ok(()))).collect()
    }
}
