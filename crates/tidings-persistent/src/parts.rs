//! An event given as hexkit's `publish` takes one: payload, type, key, topic, headers.

use std::collections::BTreeMap;

use serde::Serialize;
use tidings_core::{ExtensionValue, Message, MessageId, Payload, Result};

/// An event as its parts: a JSON payload, its type, key and topic, an optional id, and extra
/// headers — sent as CloudEvents extension attributes, so their names follow the attribute
/// naming rule (lower-case letters and digits).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct EventParts {
    /// The body, sent as JSON.
    pub payload: serde_json::Value,
    /// The event type.
    pub event_type: String,
    /// The partition key.
    pub key: String,
    /// The topic.
    pub topic: String,
    /// The id; a new one when `None`.
    pub event_id: Option<MessageId>,
    /// Further headers.
    pub headers: BTreeMap<String, String>,
}

impl EventParts {
    /// `payload` of `event_type` under `key`, to `topic`.
    pub fn new(
        payload: serde_json::Value,
        event_type: impl Into<String>,
        key: impl Into<String>,
        topic: impl Into<String>,
    ) -> Self {
        Self {
            payload,
            event_type: event_type.into(),
            key: key.into(),
            topic: topic.into(),
            event_id: None,
            headers: BTreeMap::new(),
        }
    }

    /// With header `name` set to `value`.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// With the id `id`.
    pub fn with_event_id(mut self, id: MessageId) -> Self {
        self.event_id = Some(id);
        self
    }
}

impl Message for EventParts {
    fn message_type(&self) -> &str {
        &self.event_type
    }
    fn aggregate_id(&self) -> String {
        self.key.clone()
    }
    fn topic(&self) -> Option<&str> {
        Some(&self.topic)
    }
    fn message_id(&self) -> MessageId {
        self.event_id.clone().unwrap_or_default()
    }
    fn extensions(&self) -> BTreeMap<String, ExtensionValue> {
        self.headers
            .iter()
            .map(|(name, value)| (name.clone(), ExtensionValue::String(value.clone())))
            .collect()
    }
    fn encode(&self) -> Result<Payload> {
        Payload::json(&self.payload).map_err(|e| tidings_core::Error::Serialization {
            message_type: self.event_type.clone(),
            source: Box::new(e),
        })
    }
}
