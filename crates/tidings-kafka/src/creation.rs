//! Creating topics before the first event is sent to them (XZepr's start-up topic creation,
//! done lazily): partitions and replication factor from configuration, each topic asked for
//! once per publisher.

use std::{
    collections::{HashMap, HashSet},
    sync::{Mutex, PoisonError},
};

use tidings_core::{Envelope, Error, Result};

use crate::{KafkaAdmin, KafkaConfig};

/// How topics that do not exist yet are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicCreation {
    /// Partitions of a new topic (`default_topic_partitions`).
    pub partitions: i32,
    /// Copies of each partition (`default_topic_replication_factor`).
    pub replication_factor: i32,
}

impl TopicCreation {
    /// New topics of `partitions` partitions, each held `replication_factor` times. Both must
    /// be at least 1.
    pub fn new(partitions: i32, replication_factor: i32) -> Result<Self> {
        for (setting, value) in [
            ("default_topic_partitions", partitions),
            ("default_topic_replication_factor", replication_factor),
        ] {
            if value < 1 {
                return Err(Error::Configuration(format!(
                    "{setting} = {value}: a topic needs at least 1"
                )));
            }
        }
        Ok(Self {
            partitions,
            replication_factor,
        })
    }
}

/// The admin client and the topics this publisher has made sure of.
pub(crate) struct Creator {
    admin: KafkaAdmin,
    creation: TopicCreation,
    known: Mutex<HashSet<String>>,
}

impl Creator {
    pub(crate) fn new(config: &KafkaConfig, creation: TopicCreation) -> Result<Self> {
        Ok(Self {
            admin: KafkaAdmin::new(config)?,
            creation,
            known: Mutex::default(),
        })
    }

    pub(crate) fn creation(&self) -> TopicCreation {
        self.creation
    }

    /// Makes sure every topic of `envelopes` exists, asking the cluster only for topics not
    /// seen before; returns the topics that could not be made, each with why, so that only
    /// their events fail.
    pub(crate) async fn ensure(&self, envelopes: &[Envelope]) -> HashMap<String, String> {
        let unknown: Vec<String> = {
            let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
            let mut unknown: Vec<String> = envelopes
                .iter()
                .map(|e| &e.topic)
                .filter(|topic| !known.contains(*topic))
                .cloned()
                .collect();
            unknown.sort();
            unknown.dedup();
            unknown
        };
        let mut failed = HashMap::new();
        for topic in unknown {
            let made = self
                .admin
                .ensure_topic_with(
                    &topic,
                    self.creation.partitions,
                    self.creation.replication_factor,
                )
                .await;
            match made {
                Ok(()) => {
                    self.known
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(topic);
                }
                Err(error) => {
                    failed.insert(topic, error.to_string());
                }
            }
        }
        failed
    }
}
