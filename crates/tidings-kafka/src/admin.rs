use std::time::Duration;

use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    error::RDKafkaErrorCode,
};
use tidings_core::{Error, Result, validate_topic};

use crate::KafkaConfig;

/// Creates and deletes topics (for first runs, tests and the CLI).
pub struct KafkaAdmin {
    client: std::sync::Arc<AdminClient<DefaultClientContext>>,
}

impl std::fmt::Debug for KafkaAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaAdmin").finish_non_exhaustive()
    }
}

fn options() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)))
}

impl KafkaAdmin {
    /// Whether the cluster answers a metadata request within `timeout` (for readiness checks).
    pub async fn ping(&self, timeout: Duration) -> Result<()> {
        let admin = std::sync::Arc::clone(&self.client);
        // librdkafka's metadata call blocks: it runs on a thread of its own.
        tokio::task::spawn_blocking(move || {
            admin
                .inner()
                .fetch_metadata(None, timeout)
                .map(|_| ())
                .map_err(Error::unavailable)
        })
        .await
        .map_err(Error::unavailable)?
    }

    /// An admin client for the cluster in `config`.
    pub fn new(config: &KafkaConfig) -> Result<Self> {
        let client = config.client_config(&[])?.create().map_err(|e| {
            Error::Configuration(format!("cannot create a Kafka admin client: {e}"))
        })?;
        Ok(Self {
            client: std::sync::Arc::new(client),
        })
    }

    /// Creates `topic` with `partitions` partitions (replication factor 1 unless the broker
    /// decides otherwise); an existing topic is left as it is.
    pub async fn ensure_topic(&self, topic: &str, partitions: i32) -> Result<()> {
        self.ensure_topic_with(topic, partitions, 1).await
    }

    /// Creates `topic` with `partitions` partitions held `replication_factor` times; an
    /// existing topic is left as it is.
    pub async fn ensure_topic_with(
        &self,
        topic: &str,
        partitions: i32,
        replication_factor: i32,
    ) -> Result<()> {
        validate_topic(topic)?;
        let new = NewTopic::new(
            topic,
            partitions,
            TopicReplication::Fixed(replication_factor),
        );
        let results = self
            .client
            .create_topics([&new], &options())
            .await
            .map_err(Error::unavailable)?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(Error::backend(format!(
                        "creating topic {name} failed: {code}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Deletes `topics`; missing ones are ignored.
    pub async fn delete_topics(&self, topics: &[&str]) -> Result<()> {
        let results = self
            .client
            .delete_topics(topics, &options())
            .await
            .map_err(Error::unavailable)?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
                Err((name, code)) => {
                    return Err(Error::backend(format!(
                        "deleting topic {name} failed: {code}"
                    )));
                }
            }
        }
        Ok(())
    }
}
