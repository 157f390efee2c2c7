use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{Error, ExtensionValue, MessageId, Result};

/// An encoded event body and its media type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    /// Media type, e.g. `application/json`.
    pub content_type: String,
    /// The encoded body.
    pub bytes: Vec<u8>,
}

impl Payload {
    /// Encodes `value` as JSON (`application/json`).
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        Ok(Self {
            content_type: "application/json".to_owned(),
            bytes: serde_json::to_vec(value)?,
        })
    }

    /// Bytes that are already encoded, with their media type.
    pub fn bytes(content_type: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            content_type: content_type.into(),
            bytes: bytes.into(),
        }
    }
}

/// A domain event that can be staged in the outbox.
///
/// Only [`message_type`](Self::message_type) and [`aggregate_id`](Self::aggregate_id) are
/// required; everything else has a default that an event type may override.
///
/// ```
/// use serde::Serialize;
/// use tidings_core::Message;
///
/// #[derive(Serialize)]
/// struct OrderPlaced { order_id: String, total_cents: u64 }
///
/// impl Message for OrderPlaced {
///     fn message_type(&self) -> &str { "com.example.order.placed" }
///     fn aggregate_id(&self) -> String { self.order_id.clone() }
///     fn topic(&self) -> Option<&str> { Some("orders") }
/// }
/// ```
pub trait Message: Serialize + Send + Sync {
    /// Event type (CloudEvents `type`); consumers dispatch on it.
    fn message_type(&self) -> &str;

    /// Id of the aggregate (entity) the event belongs to.
    fn aggregate_id(&self) -> String;

    /// Key that orders delivery: events with the same key arrive in the order they were staged.
    /// Defaults to the aggregate id.
    fn partition_key(&self) -> String {
        self.aggregate_id()
    }

    /// Topic to send to; `None` leaves the choice to the configured
    /// [`TopicRouter`](crate::TopicRouter).
    fn topic(&self) -> Option<&str> {
        None
    }

    /// CloudEvents `subject`.
    fn subject(&self) -> Option<String> {
        None
    }

    /// Id of this event; by default a new one in the factory's [`IdScheme`](crate::IdScheme)
    /// (a UUIDv7 unless set to ULIDs). Override to derive a deterministic id.
    fn message_id(&self) -> MessageId {
        MessageId::new()
    }

    /// Correlation id to use instead of the one from the current context.
    fn correlation_id(&self) -> Option<String> {
        None
    }

    /// Causation id to use instead of the one from the current context (the id of the event
    /// being handled).
    fn causation_id(&self) -> Option<String> {
        None
    }

    /// When the event happened; now by default.
    fn occurred_at(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// Further CloudEvents extension attributes to send with the event.
    fn extensions(&self) -> BTreeMap<String, ExtensionValue> {
        BTreeMap::new()
    }

    /// Encodes the event body: JSON by default. Override to send bytes of another content type.
    fn encode(&self) -> Result<Payload> {
        Payload::json(self).map_err(|e| Error::Serialization {
            message_type: self.message_type().to_owned(),
            source: Box::new(e),
        })
    }
}

/// An event built at run time from untyped values, for services that assemble events
/// dynamically — HuleEdu's `add_event(aggregate_id, aggregate_type, event_type, event_data,
/// topic, event_key)`. The body is `event_data` as it is; the aggregate type is the CloudEvents
/// `subject`; the key is `event_key`, else the aggregate id.
///
/// ```
/// use tidings_core::{DynamicEvent, EnvelopeFactory};
///
/// let event = DynamicEvent::new(
///     "essay-7",
///     "essay",
///     "essay.submitted",
///     serde_json::json!({ "words": 812 }),
///     "huleedu.essays",
/// )
/// .with_event_key("class-3");
/// let envelope = EnvelopeFactory::default().envelope(&event, None)?;
/// assert_eq!((envelope.key.as_str(), envelope.subject.as_deref()), ("class-3", Some("essay")));
/// assert_eq!(envelope.payload, br#"{"words":812}"#);
/// # Ok::<(), tidings_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DynamicEvent {
    /// The aggregate the event is about.
    pub aggregate_id: String,
    /// The kind of aggregate (the CloudEvents `subject`).
    pub aggregate_type: String,
    /// The event type (CloudEvents `type`).
    pub event_type: String,
    /// The body, sent as JSON as it is.
    pub event_data: serde_json::Value,
    /// The topic.
    pub topic: String,
    /// The partition key; the aggregate id when `None`.
    pub event_key: Option<String>,
}

impl DynamicEvent {
    /// `event_type` of `aggregate_type` `aggregate_id`, carrying `event_data`, to `topic`.
    pub fn new(
        aggregate_id: impl Into<String>,
        aggregate_type: impl Into<String>,
        event_type: impl Into<String>,
        event_data: serde_json::Value,
        topic: impl Into<String>,
    ) -> Self {
        Self {
            aggregate_id: aggregate_id.into(),
            aggregate_type: aggregate_type.into(),
            event_type: event_type.into(),
            event_data,
            topic: topic.into(),
            event_key: None,
        }
    }

    /// Orders it under `key` instead of the aggregate id.
    pub fn with_event_key(mut self, key: impl Into<String>) -> Self {
        self.event_key = Some(key.into());
        self
    }
}

impl Message for DynamicEvent {
    fn message_type(&self) -> &str {
        &self.event_type
    }
    fn aggregate_id(&self) -> String {
        self.aggregate_id.clone()
    }
    fn partition_key(&self) -> String {
        self.event_key
            .clone()
            .unwrap_or_else(|| self.aggregate_id.clone())
    }
    fn topic(&self) -> Option<&str> {
        Some(&self.topic)
    }
    fn subject(&self) -> Option<String> {
        Some(self.aggregate_type.clone())
    }
    fn encode(&self) -> Result<Payload> {
        Payload::json(&self.event_data).map_err(|e| Error::Serialization {
            message_type: self.event_type.clone(),
            source: Box::new(e),
        })
    }
}
