use std::{collections::HashSet, time::Duration};

use futures_util::future::join_all;
use rdkafka::{
    error::{KafkaError, RDKafkaErrorCode},
    message::{Header, OwnedHeaders},
    producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer},
};
use tidings_core::{
    Envelope, Error, EventPublisher, PublishOutcome, Result,
    cloudevents::{self, ContentMode, Record},
    validate_topic,
};

use crate::{KafkaConfig, config::millis};

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
#[derive(Clone)]
pub struct KafkaPublisher {
    producer: FutureProducer,
    prompt: FutureProducer,
    prompt_below: usize,
    mode: ContentMode,
    max_message_bytes: usize,
}

impl std::fmt::Debug for KafkaPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaPublisher")
            .field("mode", &self.mode)
            .field("max_message_bytes", &self.max_message_bytes)
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
        let create = |client: rdkafka::ClientConfig| -> Result<FutureProducer> {
            client
                .create()
                .map_err(|e| Error::Configuration(format!("cannot create a Kafka producer: {e}")))
        };
        let producer = create(config.client_config(&defaults))?;
        let mut prompt = config.client_config(&defaults);
        prompt.set("linger.ms", "0");
        Ok(Self {
            producer,
            prompt: create(prompt)?,
            prompt_below: DEFAULT_PROMPT_BELOW,
            mode: ContentMode::Binary,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        })
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

    /// Refuses records larger than `bytes` (key, headers and value) before sending; keep it at
    /// or below the broker's `message.max.bytes`.
    pub fn with_max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// The producer for large batches and raw records.
    pub fn producer(&self) -> &FutureProducer {
        &self.producer
    }

    /// Waits up to `timeout` (for each producer) for every queued record to be delivered.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.producer.flush(timeout).map_err(Error::unavailable)?;
        self.prompt.flush(timeout).map_err(Error::unavailable)
    }

    fn encode(&self, envelope: &Envelope) -> Result<Record> {
        validate_topic(&envelope.topic)?;
        let record = cloudevents::encode(envelope, self.mode)?;
        let size = record.value.len()
            + record.key.as_ref().map_or(0, Vec::len)
            + record
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
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
                Err((error, _)) => return Err(publish_error(&record.topic, error)),
            }
        }
    }
}

impl KafkaPublisher {
    /// Sends a raw record (e.g. a dead letter) and waits for its delivery report.
    pub async fn send_record(&self, record: &Record) -> Result<()> {
        let delivery = self.enqueue(&self.producer, record).await?;
        delivered(&record.topic, delivery).await
    }
}

async fn delivered(topic: &str, delivery: DeliveryFuture) -> Result<()> {
    match delivery.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((error, _))) => Err(publish_error(topic, error)),
        Err(_) => Err(Error::Publish {
            topic: topic.to_owned(),
            source: "the producer was dropped before delivery".into(),
        }),
    }
}

fn publish_error(topic: &str, error: KafkaError) -> Error {
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::InvalidMessageSize) => {
            Error::PayloadTooLarge { size: 0, limit: 0 }
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
        let mut failed_keys: HashSet<&str> = HashSet::new();
        // `None` while the record is in flight.
        let mut outcome: Vec<Option<Result<()>>> = Vec::with_capacity(envelopes.len());
        let mut deliveries = Vec::with_capacity(envelopes.len());
        let producer = if envelopes.len() < self.prompt_below {
            &self.prompt
        } else {
            &self.producer
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
        let reports = join_all(deliveries.into_iter().map(|(index, delivery)| async move {
            (index, delivered(&envelopes[index].topic, delivery).await)
        }))
        .await;
        for (index, report) in reports {
            outcome[index] = Some(report);
        }
        outcome.into_iter().map(|o| o.unwrap_or(Ok(()))).collect()
    }
}
