//! The publisher contract of `tidings-testkit` against a real Kafka-protocol broker
//! (`KAFKA_BOOTSTRAP_SERVERS`, Tansu from `scripts/services`), in both content modes. Each case
//! is a named test: `cargo test -p tidings-kafka --test publisher_contract structured::`.

use std::{collections::HashMap, process::ExitCode, sync::Mutex};

use tidings_core::{Envelope, cloudevents::ContentMode};
use tidings_kafka::{KafkaAdmin, KafkaConfig, KafkaPublisher};
use tidings_testkit::{
    PublisherUnderTest, Suite,
    kafka::{decode_all, read_topic},
    unique,
};

/// A small limit, so the oversized case needs no megabyte of payload.
const MAX_MESSAGE_BYTES: usize = 10_000;

/// A publisher and the topics its case made.
struct Kafka {
    config: KafkaConfig,
    publisher: KafkaPublisher,
    topics: Mutex<HashMap<String, i32>>,
}

impl Kafka {
    fn new(mode: ContentMode) -> Self {
        let config = KafkaConfig::new(
            std::env::var("KAFKA_BOOTSTRAP_SERVERS").expect("checked by Suite::requires"),
        );
        let publisher = KafkaPublisher::new(&config)
            .expect("publisher")
            .with_mode(mode)
            .with_max_message_bytes(MAX_MESSAGE_BYTES);
        Self {
            config,
            publisher,
            topics: Mutex::default(),
        }
    }
}

impl PublisherUnderTest for Kafka {
    type Publisher = KafkaPublisher;

    fn publisher(&self) -> &KafkaPublisher {
        &self.publisher
    }

    async fn topic(&self, partitions: i32) -> String {
        let topic = unique("contract");
        KafkaAdmin::new(&self.config)
            .expect("admin")
            .ensure_topic(&topic, partitions)
            .await
            .expect("create topic");
        self.topics
            .lock()
            .expect("topics")
            .insert(topic.clone(), partitions);
        topic
    }

    async fn read(&self, topic: &str, count: usize) -> Vec<Envelope> {
        let partitions = self.topics.lock().expect("topics")[topic];
        decode_all(&read_topic(&self.config, topic, partitions, count).await)
    }

    fn max_payload_bytes(&self) -> usize {
        MAX_MESSAGE_BYTES
    }

    async fn clean_up(&self) {
        let topics: Vec<String> = self
            .topics
            .lock()
            .expect("topics")
            .keys()
            .cloned()
            .collect();
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        if let Ok(admin) = KafkaAdmin::new(&self.config) {
            let _ = admin.delete_topics(&names).await;
        }
    }
}

fn main() -> ExitCode {
    Suite::new()
        .requires("KAFKA_BOOTSTRAP_SERVERS")
        .prefixed("binary")
        .publisher(|| async { Kafka::new(ContentMode::Binary) })
        .prefixed("structured")
        .publisher(|| async { Kafka::new(ContentMode::Structured) })
        .run()
}
