//! Kafka in tests: a topic of the test's own, read back from the beginning.

use std::time::Duration;

use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{Consumer, StreamConsumer},
};
use tidings_core::{Envelope, cloudevents::Record};
use tidings_kafka::{KafkaAdmin, KafkaConfig};

use crate::env::unique;

/// How long a reader waits for the records it was asked for.
const READ_LIMIT: Duration = Duration::from_secs(60);

/// The cluster of `KAFKA_BOOTSTRAP_SERVERS`, or `None` (a skip, or a failure under CI).
pub fn kafka_from_env() -> Option<KafkaConfig> {
    crate::env::server_from_env("KAFKA_BOOTSTRAP_SERVERS").map(KafkaConfig::new)
}

/// A topic of a test's own, with its partition count.
#[derive(Clone, Debug)]
pub struct TestTopic {
    /// Its name.
    pub name: String,
    /// Its partitions.
    pub partitions: i32,
}

impl TestTopic {
    /// Creates a topic named after `prefix` with `partitions` partitions.
    pub async fn create(kafka: &KafkaConfig, prefix: &str, partitions: i32) -> Self {
        let name = unique(prefix);
        KafkaAdmin::new(kafka)
            .expect("a Kafka admin client")
            .ensure_topic(&name, partitions)
            .await
            .expect("create the test topic");
        Self { name, partitions }
    }

    /// The first `count` records, read from the beginning of every partition.
    pub async fn read(&self, kafka: &KafkaConfig, count: usize) -> Vec<Record> {
        read_topic(kafka, &self.name, self.partitions, count).await
    }

    /// Deletes the topic. Stop the topic's consumers first: librdkafka crashes on the
    /// metadata of a deleted topic that a consumer is still subscribed to.
    pub async fn delete(&self, kafka: &KafkaConfig) {
        if let Ok(admin) = KafkaAdmin::new(kafka) {
            let _ = admin.delete_topics(&[&self.name]).await;
        }
    }
}

/// The first `count` records of `topic` (of `partitions` partitions), read from the beginning
/// of every partition; fails the test, saying how many came, after a minute.
pub async fn read_topic(
    kafka: &KafkaConfig,
    topic: &str,
    partitions: i32,
    count: usize,
) -> Vec<Record> {
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("group.id", unique("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("a reader");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&assignment).expect("assign");
    let mut records = Vec::new();
    let read = tokio::time::timeout(READ_LIMIT, async {
        while records.len() < count {
            let message = consumer.recv().await.expect("receive");
            records.push(tidings_kafka::to_record(&message));
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "only {} of {count} records arrived on {topic} within {READ_LIMIT:?}",
        records.len()
    );
    records
}

/// The events of `records`, decoded.
pub fn decode_all(records: &[Record]) -> Vec<Envelope> {
    records
        .iter()
        .map(|record| tidings_core::cloudevents::decode(record).expect("a CloudEvent"))
        .collect()
}
