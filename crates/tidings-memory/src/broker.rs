use std::{
    collections::{HashMap, HashSet},
    fmt,
    sync::{Arc, Mutex, MutexGuard},
};

use tidings_core::{
    Envelope, Error, EventPublisher, Notifications, Notifier, PublishOutcome, Result,
    cloudevents::{self, ContentMode, Record},
    validate_topic,
};

/// Decides whether the broker refuses an envelope: `Some(reason)` refuses it.
pub type Fault = Arc<dyn Fn(&Envelope) -> Option<String> + Send + Sync>;

/// A broker in process memory: an append-only log of encoded records per topic.
///
/// Envelopes are encoded with the CloudEvents codec (binary mode unless told otherwise), so what
/// a consumer reads back went through the same codec as on Kafka. Tests can make it refuse
/// envelopes ([`set_fault`](Self::set_fault)) and redeliver records
/// ([`redeliver`](Self::redeliver)).
#[derive(Clone, Default)]
pub struct MemoryBroker {
    shared: Arc<Shared>,
}

/// Kafka's default `message.max.bytes`, so that what the memory broker takes Kafka takes too.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_048_588;

struct Shared {
    topics: Mutex<HashMap<String, Vec<Record>>>,
    fault: Mutex<Option<Fault>>,
    mode: ContentMode,
    max_message_bytes: usize,
    notifier: Notifier,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            topics: Mutex::default(),
            fault: Mutex::default(),
            mode: ContentMode::default(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            notifier: Notifier::new(),
        }
    }
}

impl fmt::Debug for MemoryBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let topics = self.topics();
        f.debug_struct("MemoryBroker")
            .field("topics", &topics.len())
            .field("mode", &self.shared.mode)
            .finish()
    }
}

impl MemoryBroker {
    /// An empty broker that writes binary-mode records.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty broker that writes records in `mode`.
    pub fn with_mode(mode: ContentMode) -> Self {
        Self {
            shared: Arc::new(Shared {
                mode,
                ..Shared::default()
            }),
        }
    }

    /// An empty broker that refuses records larger than `bytes` (value, key and headers), as
    /// Kafka does beyond its `message.max.bytes`; by default [`DEFAULT_MAX_MESSAGE_BYTES`].
    pub fn with_max_message_bytes(bytes: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                max_message_bytes: bytes,
                ..Shared::default()
            }),
        }
    }

    /// The largest record the broker takes.
    pub fn max_message_bytes(&self) -> usize {
        self.shared.max_message_bytes
    }

    /// Makes the broker refuse every envelope for which `fault` returns a reason; `None` heals it.
    pub fn set_fault(&self, fault: Option<Fault>) {
        *self
            .shared
            .fault
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = fault;
    }

    /// The records of `topic`, oldest first; the index is the offset.
    pub fn records(&self, topic: &str) -> Vec<Record> {
        self.topics().get(topic).cloned().unwrap_or_default()
    }

    /// The records of `topic` from `offset` on.
    pub fn records_from(&self, topic: &str, offset: usize) -> Vec<Record> {
        self.topics()
            .get(topic)
            .map(|records| records.iter().skip(offset).cloned().collect())
            .unwrap_or_default()
    }

    /// The records of `topic`, decoded.
    pub fn envelopes(&self, topic: &str) -> Result<Vec<Envelope>> {
        self.records(topic)
            .iter()
            .map(cloudevents::decode)
            .collect()
    }

    /// Appends a copy of the record at `offset` of `topic`, as a broker does when a consumer
    /// fails before committing its offset. Returns whether there was such a record.
    pub fn redeliver(&self, topic: &str, offset: usize) -> bool {
        let mut topics = self.topics();
        let Some(records) = topics.get_mut(topic) else {
            return false;
        };
        let Some(record) = records.get(offset).cloned() else {
            return false;
        };
        records.push(record);
        drop(topics);
        self.shared.notifier.notify();
        true
    }

    /// Appends a raw record, e.g. a malformed one a foreign producer might send.
    pub fn append(&self, record: Record) {
        self.topics()
            .entry(record.topic.clone())
            .or_default()
            .push(record);
        self.shared.notifier.notify();
    }

    /// Wakes on every append.
    pub fn subscribe(&self) -> Notifications {
        self.shared.notifier.subscribe()
    }

    fn topics(&self) -> MutexGuard<'_, HashMap<String, Vec<Record>>> {
        self.shared
            .topics
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn fault(&self) -> Option<Fault> {
        self.shared
            .fault
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl MemoryBroker {
    /// The record of `envelope` if the broker takes it: a valid topic, a record within the
    /// size limit, and no fault.
    fn accept(&self, envelope: &Envelope, fault: Option<&Fault>) -> Result<Record> {
        validate_topic(&envelope.topic)?;
        let record = cloudevents::encode(envelope, self.shared.mode)?;
        let (size, limit) = (record.size(), self.shared.max_message_bytes);
        if size > limit {
            return Err(Error::PayloadTooLarge { size, limit });
        }
        match fault.and_then(|f| f(envelope)) {
            Some(reason) => Err(Error::Publish {
                topic: envelope.topic.clone(),
                source: reason.into(),
            }),
            None => Ok(record),
        }
    }
}

impl EventPublisher for MemoryBroker {
    async fn publish_batch(&self, envelopes: &[Envelope]) -> PublishOutcome {
        let fault = self.fault();
        let mut failed_keys: HashSet<&str> = HashSet::new();
        let mut outcome = Vec::with_capacity(envelopes.len());
        let mut accepted = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            let result = if failed_keys.contains(envelope.key.as_str()) {
                Err(Error::Publish {
                    topic: envelope.topic.clone(),
                    source: "not sent: an earlier event of the same key failed".into(),
                })
            } else {
                self.accept(envelope, fault.as_ref())
            };
            match result {
                Ok(record) => {
                    accepted.push(record);
                    outcome.push(Ok(()));
                }
                Err(error) => {
                    failed_keys.insert(envelope.key.as_str());
                    outcome.push(Err(error));
                }
            }
        }
        if !accepted.is_empty() {
            let mut topics = self.topics();
            for record in accepted {
                topics.entry(record.topic.clone()).or_default().push(record);
            }
            drop(topics);
            self.shared.notifier.notify();
        }
        outcome
    }
}
