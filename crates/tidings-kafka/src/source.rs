//! Kafka as a record source of the consume engine: records from a consumer group's
//! subscription, acknowledged by storing their offsets (committed in the background and at
//! shutdown), dead-lettered to a topic with why and where from.

use rdkafka::{
    Message as _,
    consumer::{CommitMode, Consumer, StreamConsumer},
    error::{KafkaError, RDKafkaErrorCode},
};
use tidings_core::{Delivery, Error, RecordSource, Result};
use tracing::warn;

use crate::{ConsumerConfig, KafkaConfig, KafkaPublisher, config::millis};

/// Header of a dead-lettered record that says why it was given up.
pub const ERROR_HEADER: &str = "tidings-error";
/// Header of a dead-lettered record naming the topic it came from.
pub const ORIGINAL_TOPIC_HEADER: &str = "tidings-original-topic";
/// Header of a dead-lettered record with its original partition and offset (`partition/offset`).
pub const ORIGINAL_POSITION_HEADER: &str = "tidings-original-position";

/// Where a Kafka record is: its topic, partition and offset. Shown as `partition/offset`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaPosition {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
}

impl std::fmt::Display for KafkaPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.partition, self.offset)
    }
}

/// A consumer group's subscription as a [`RecordSource`]; each partition is a lane.
pub struct KafkaSource {
    consumer: StreamConsumer,
    dead_letters: KafkaPublisher,
    dead_letter_topic: Option<String>,
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource")
            .field("dead_letter_topic", &self.dead_letter_topic)
            .finish_non_exhaustive()
    }
}

impl KafkaSource {
    /// Joins group `config.group_id` on `config.topics`, offsets stored by hand and committed
    /// in the background.
    pub fn new(kafka: &KafkaConfig, config: &ConsumerConfig) -> Result<Self> {
        let defaults = [
            ("group.id", config.group_id.clone()),
            ("enable.auto.commit", "true".to_owned()),
            // Offsets are stored by hand, after the unit of work commits; auto-commit only
            // sends what was stored.
            ("enable.auto.offset.store", "false".to_owned()),
            ("auto.offset.reset", "earliest".to_owned()),
            ("session.timeout.ms", millis(config.session_timeout)),
        ];
        let consumer: StreamConsumer = kafka
            .client_config(&defaults)?
            .create()
            .map_err(|e| Error::Configuration(format!("cannot create a Kafka consumer: {e}")))?;
        let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(Error::unavailable)?;
        Ok(Self {
            consumer,
            dead_letters: KafkaPublisher::new(kafka)?,
            dead_letter_topic: config.dead_letter_topic.clone(),
        })
    }
}

impl RecordSource for KafkaSource {
    type Position = KafkaPosition;

    async fn next(&self) -> Result<Delivery<KafkaPosition>> {
        let message = self.consumer.recv().await.map_err(Error::unavailable)?;
        let position = KafkaPosition {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
        };
        Ok(Delivery {
            record: crate::record::to_record(&message),
            lane: format!("{}/{}", position.topic, position.partition),
            position,
        })
    }

    fn ack(&self, position: &KafkaPosition) -> Result<()> {
        // librdkafka stores offset + 1, the next record to read.
        self.consumer
            .store_offset(&position.topic, position.partition, position.offset)
            .map_err(Error::unavailable)
    }

    async fn dead_letter(&self, delivery: &Delivery<KafkaPosition>, error: &str) -> Result<()> {
        let record = &delivery.record;
        let mut dead = record.clone();
        dead.topic = self
            .dead_letter_topic
            .clone()
            .unwrap_or_else(|| format!("{}.dlq", record.topic));
        let position = delivery.position.to_string();
        for (name, value) in [
            (ERROR_HEADER, error.as_bytes()),
            (ORIGINAL_TOPIC_HEADER, record.topic.as_bytes()),
            (ORIGINAL_POSITION_HEADER, position.as_bytes()),
        ] {
            dead.headers.push((name.to_owned(), value.to_vec()));
        }
        self.dead_letters.send_record(&dead).await
    }

    async fn flush(&self) -> Result<()> {
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => Ok(()),
            Err(error) => {
                warn!(%error, "committing offsets failed");
                Err(Error::unavailable(error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_shows_as_partition_and_offset() {
        let position = KafkaPosition {
            topic: "orders".to_owned(),
            partition: 2,
            offset: 41,
        };
        assert_eq!(position.to_string(), "2/41");
    }
}
