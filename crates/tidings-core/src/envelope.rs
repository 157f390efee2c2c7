use std::{collections::BTreeMap, fmt, sync::Arc};

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Error, Message, Result, TopicRouter, context::Context, validate_topic};

/// The id of a message: a UUIDv7 string for events Tidings creates, any non-empty string for
/// events received from elsewhere (CloudEvents ids are strings).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(String);

/// How new event ids are made. Both are time-ordered; the scheme is a factory's
/// ([`EnvelopeFactory::with_ids`]), so that a service whose consumers expect ULIDs (as XZepr's
/// do) gets them from a message's default [`Message::message_id`](crate::Message::message_id).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdScheme {
    /// A UUIDv7, `0192…-7…` (the default).
    #[default]
    UuidV7,
    /// A ULID, 26 characters of Crockford base 32.
    Ulid,
}

thread_local! {
    /// The scheme of the factory building an envelope on this thread, while it builds it.
    static SCHEME: std::cell::Cell<IdScheme> = const { std::cell::Cell::new(IdScheme::UuidV7) };
}

/// `build`, with [`MessageId::new`] making ids of `scheme` on this thread meanwhile.
fn with_scheme<T>(scheme: IdScheme, build: impl FnOnce() -> T) -> T {
    struct Restore(IdScheme);
    impl Drop for Restore {
        fn drop(&mut self) {
            SCHEME.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SCHEME.with(|s| s.replace(scheme)));
    build()
}

/// A ULID greater than the last one this process made (a plain `Ulid::new` is random within
/// its millisecond), so that ULIDs keep the order they were made in, as UUIDv7s do.
fn next_ulid() -> ulid::Ulid {
    static GENERATOR: std::sync::Mutex<ulid::Generator> =
        std::sync::Mutex::new(ulid::Generator::new());
    let mut generator = GENERATOR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Overflow takes 2^80 ids in one millisecond; a fresh one is then the best there is.
    generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
}

impl MessageId {
    /// A new time-ordered id: a UUIDv7, or a ULID while a factory set to ULIDs builds an
    /// envelope.
    pub fn new() -> Self {
        Self::new_in(SCHEME.with(std::cell::Cell::get))
    }

    /// A new id of `scheme`.
    pub fn new_in(scheme: IdScheme) -> Self {
        match scheme {
            IdScheme::UuidV7 => Self(Uuid::now_v7().to_string()),
            IdScheme::Ulid => Self(next_ulid().to_string()),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for MessageId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Uuid> for MessageId {
    fn from(id: Uuid) -> Self {
        Self(id.to_string())
    }
}

impl From<String> for MessageId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl From<&str> for MessageId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

/// The value of a CloudEvents extension attribute (the spec's String, Integer and Boolean types).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ExtensionValue {
    /// A string value.
    String(String),
    /// An integer value.
    Integer(i64),
    /// A boolean value.
    Boolean(bool),
}

impl fmt::Display for ExtensionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => f.write_str(s),
            Self::Integer(i) => write!(f, "{i}"),
            Self::Boolean(b) => write!(f, "{b}"),
        }
    }
}

impl From<&str> for ExtensionValue {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for ExtensionValue {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl From<i64> for ExtensionValue {
    fn from(i: i64) -> Self {
        Self::Integer(i)
    }
}

impl From<bool> for ExtensionValue {
    fn from(b: bool) -> Self {
        Self::Boolean(b)
    }
}

/// The stored and sent form of an event: what the outbox keeps, what the relay hands to the
/// publisher and what a consumer receives. Its attributes map one to one onto CloudEvents 1.0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Envelope {
    /// Unique id of the event (CloudEvents `id`); the inbox deduplicates on it.
    pub id: MessageId,
    /// Broker topic the event is sent to.
    pub topic: String,
    /// Partition key: events with the same key are delivered in the order they were staged.
    pub key: String,
    /// Event type (CloudEvents `type`), e.g. `com.example.order.placed`.
    pub message_type: String,
    /// Producer of the event (CloudEvents `source`, a URI reference such as `/orders-service`).
    pub source: String,
    /// When the event happened (CloudEvents `time`).
    pub time: DateTime<Utc>,
    /// What the event is about within its source (CloudEvents `subject`).
    pub subject: Option<String>,
    /// Schema of the payload (CloudEvents `dataschema`, a URI).
    pub data_schema: Option<String>,
    /// Media type of [`payload`](Self::payload) (CloudEvents `datacontenttype`).
    pub content_type: String,
    /// Further CloudEvents extension attributes, sent as `ce_<name>` headers in binary mode.
    pub extensions: BTreeMap<String, ExtensionValue>,
    /// The encoded event data.
    pub payload: Vec<u8>,
    /// Id shared by every event of one business conversation (extension `correlationid`).
    pub correlation_id: Option<String>,
    /// Id of the event that caused this one (extension `causationid`).
    pub causation_id: Option<String>,
    /// W3C trace context of the operation that staged the event (extension `traceparent`).
    pub traceparent: Option<String>,
}

/// Extension names that map onto [`Envelope`] fields or that the spec reserves, so a user's
/// extension may not take them.
const RESERVED_ATTRIBUTES: &[&str] = &[
    "id",
    "source",
    "specversion",
    "type",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
    "data",
    "data_base64",
    "correlationid",
    "causationid",
    "partitionkey",
    "traceparent",
];

impl Envelope {
    /// An envelope with a new id, the current time and no optional attributes.
    pub fn new(
        topic: impl Into<String>,
        key: impl Into<String>,
        message_type: impl Into<String>,
        content_type: impl Into<String>,
        payload: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            id: MessageId::new(),
            topic: topic.into(),
            key: key.into(),
            message_type: message_type.into(),
            source: "tidings".to_owned(),
            // Microseconds: what every store keeps, so a stored event reads back equal.
            time: Utc::now().trunc_subsecs(6),
            subject: None,
            data_schema: None,
            content_type: content_type.into(),
            extensions: BTreeMap::new(),
            payload: payload.into(),
            correlation_id: None,
            causation_id: None,
            traceparent: None,
        }
    }

    /// Deserializes a JSON payload into `T`.
    pub fn decode_json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.payload).map_err(|e| {
            Error::MalformedEvent(format!(
                "data of {} event {} is not the expected JSON: {e}",
                self.message_type, self.id
            ))
        })
    }

    /// Checks every rule an envelope must meet before it is stored or sent.
    pub fn validate(&self, limits: &Limits) -> Result<()> {
        validate_topic(&self.topic)?;
        for (value, what) in [
            (self.id.as_str(), "id"),
            (self.key.as_str(), "partition key"),
            (self.message_type.as_str(), "type"),
            (self.source.as_str(), "source"),
            (self.content_type.as_str(), "content type"),
        ] {
            if value.trim().is_empty() {
                return Err(Error::InvalidMessage(format!(
                    "the event's {what} is empty"
                )));
            }
        }
        if self.key.len() > limits.max_key_bytes {
            return Err(Error::InvalidMessage(format!(
                "partition key of {} bytes exceeds the limit of {} bytes",
                self.key.len(),
                limits.max_key_bytes
            )));
        }
        if self.payload.len() > limits.max_payload_bytes {
            return Err(Error::PayloadTooLarge {
                size: self.payload.len(),
                limit: limits.max_payload_bytes,
            });
        }
        for name in self.extensions.keys() {
            validate_extension_name(name)?;
        }
        Ok(())
    }
}

/// CloudEvents attribute names are lower-case ASCII letters and digits; Kafka headers derived
/// from them must stay unambiguous.
fn validate_extension_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 20
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err(Error::InvalidMessage(format!(
            "extension name {name:?} must be 1 to 20 lower-case ASCII letters or digits"
        )));
    }
    if RESERVED_ATTRIBUTES.contains(&name) {
        return Err(Error::InvalidMessage(format!(
            "extension name {name:?} is reserved for a CloudEvents attribute"
        )));
    }
    Ok(())
}

/// Size limits checked when an event is staged, so that nothing is accepted into the outbox that
/// the broker would refuse later.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest payload accepted. The default, 1,000,000 bytes, leaves room for headers under
    /// Kafka's default `message.max.bytes` (1,048,588).
    pub max_payload_bytes: usize,
    /// Longest partition key accepted, in bytes.
    pub max_key_bytes: usize,
}

impl Limits {
    /// Sets the largest payload accepted.
    pub fn with_max_payload_bytes(mut self, bytes: usize) -> Self {
        self.max_payload_bytes = bytes;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_payload_bytes: 1_000_000,
            max_key_bytes: 1024,
        }
    }
}

/// Turns [`Message`]s into validated [`Envelope`]s: picks the topic, encodes the payload and fills
/// the correlation attributes from the context.
#[derive(Clone)]
pub struct EnvelopeFactory {
    source: String,
    router: Option<Arc<dyn TopicRouter>>,
    limits: Limits,
    ids: IdScheme,
    default_topic: Option<String>,
}

impl fmt::Debug for EnvelopeFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvelopeFactory")
            .field("source", &self.source)
            .field("router", &self.router.is_some())
            .field("limits", &self.limits)
            .field("ids", &self.ids)
            .field("default_topic", &self.default_topic)
            .finish()
    }
}

impl Default for EnvelopeFactory {
    fn default() -> Self {
        Self::new("tidings")
    }
}

impl EnvelopeFactory {
    /// A factory that stamps `source` (CloudEvents `source`, e.g. `/orders-service`) on each event.
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            router: None,
            limits: Limits::default(),
            ids: IdScheme::default(),
            default_topic: None,
        }
    }

    /// Sends messages that name no topic, and that the router (if any) does not place, to
    /// `topic` (XZepr's `default_topic`) instead of refusing them.
    pub fn with_default_topic(mut self, topic: impl Into<String>) -> Self {
        self.default_topic = Some(topic.into());
        self
    }

    /// Makes the ids of messages that keep the default `message_id` in `scheme`.
    pub fn with_ids(mut self, scheme: IdScheme) -> Self {
        self.ids = scheme;
        self
    }

    /// Routes messages that do not name a topic themselves.
    pub fn with_router(mut self, router: impl TopicRouter + 'static) -> Self {
        self.router = Some(Arc::new(router));
        self
    }

    /// Replaces the size limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Builds the envelope of `message`. The correlation id is the message's own, else the
    /// context's, else a new one; causation id and trace parent come from the context.
    pub fn envelope<M: Message>(&self, message: &M, context: Option<&Context>) -> Result<Envelope> {
        let message_type = message.message_type();
        let topic = match message.topic() {
            Some(topic) => topic.to_owned(),
            None => self
                .router
                .as_ref()
                .and_then(|r| r.topic_for(message_type))
                .or_else(|| self.default_topic.clone())
                .ok_or_else(|| Error::NoTopic(message_type.to_owned()))?,
        };
        let payload = message.encode()?;
        let envelope = Envelope {
            id: with_scheme(self.ids, || message.message_id()),
            topic,
            key: message.partition_key(),
            message_type: message_type.to_owned(),
            source: self.source.clone(),
            time: message.occurred_at(),
            subject: message.subject(),
            data_schema: None,
            content_type: payload.content_type,
            extensions: message.extensions(),
            payload: payload.bytes,
            correlation_id: message
                .correlation_id()
                .or_else(|| context.and_then(|c| c.correlation_id.clone()))
                .or_else(|| Some(Uuid::now_v7().to_string())),
            causation_id: message
                .causation_id()
                .or_else(|| context.and_then(|c| c.causation_id.clone())),
            // The current span's, when traced; else the context's (the handled event's).
            traceparent: crate::trace::current_traceparent()
                .or_else(|| context.and_then(|c| c.traceparent.clone())),
        };
        envelope.validate(&self.limits)?;
        Ok(envelope)
    }
}
