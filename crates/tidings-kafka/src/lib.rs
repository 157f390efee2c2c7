//! Kafka for Tidings (rdkafka): a [`KafkaPublisher`] for the relay and an idempotent
//! [`KafkaConsumer`] that applies each event once through a unit of work with an inbox.
//!
//! Events travel as CloudEvents 1.0 — binary content mode by default, structured selectable —
//! with the partition key as the record key. Configuration comes from code or the environment
//! ([`KafkaConfig::from_env`]); secrets never appear in logs or `Debug` output.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use tidings_kafka::{KafkaConfig, KafkaPublisher};
//! use tidings_relay::{Relay, RelayConfig};
//! # let outbox = tidings_memory::MemoryBackend::new();
//!
//! let kafka = KafkaConfig::from_env()?; // KAFKA_BOOTSTRAP_SERVERS, KAFKA_SASL_*, ...
//! let relay = Relay::new(outbox, KafkaPublisher::new(&kafka)?, RelayConfig::default());
//! relay.drain().await?;
//! # Ok(()) }
//! ```

mod admin;
mod config;
mod consumer;
mod creation;
mod publisher;
mod record;
mod security;
mod source;

pub use admin::KafkaAdmin;
pub use config::{KafkaConfig, Secret};
pub use consumer::{ConsumerConfig, KafkaConsumer};
pub use creation::TopicCreation;
pub use publisher::KafkaPublisher;
pub use record::to_record;
pub use source::{
    ERROR_HEADER, KafkaPosition, KafkaSource, ORIGINAL_POSITION_HEADER, ORIGINAL_TOPIC_HEADER,
};
pub use tidings_core::wire::HeaderProfile;
pub use tidings_uow::consume::{ConsumerReport, EventHandler};
