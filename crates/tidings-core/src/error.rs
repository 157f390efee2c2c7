use std::error::Error as StdError;

/// A boxed error from a driver or a user's handler, kept as the `source` of an [`Error`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The result type of every Tidings port.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a Tidings port can report.
///
/// Adapters keep their driver errors private and convert them into one of these variants, so
/// callers can decide what to do (retry on [`Error::Unavailable`], fix input on
/// [`Error::InvalidMessage`]…) without knowing the backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The message breaks a rule of the envelope (empty key, bad extension name…).
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// The topic name cannot be used on the broker.
    #[error("invalid topic name {topic:?}: {reason}")]
    InvalidTopic {
        /// The rejected name.
        topic: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The encoded payload is larger than the configured limit.
    #[error("payload of {size} bytes exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// Size of the encoded payload in bytes.
        size: usize,
        /// The limit in force ([`crate::Limits::max_payload_bytes`]).
        limit: usize,
    },
    /// The message could not be serialized into a payload.
    #[error("could not serialize a {message_type} message: {source}")]
    Serialization {
        /// The message type that failed.
        message_type: String,
        /// The serializer's error.
        #[source]
        source: BoxError,
    },
    /// A received record is not a valid CloudEvent (or not one this codec understands).
    #[error("malformed CloudEvent: {0}")]
    MalformedEvent(String),
    /// No topic could be chosen for a message: it names none and no router knows its type.
    #[error("no topic for message type {0:?}: implement Message::topic or configure a TopicRouter")]
    NoTopic(String),
    /// The broker refused or failed to take an event.
    #[error("publishing to {topic:?} failed: {source}")]
    Publish {
        /// Topic of the failed event.
        topic: String,
        /// The broker client's error.
        #[source]
        source: BoxError,
    },
    /// The backend could not be reached; the operation may succeed later.
    #[error("backend unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// A concurrent transaction wrote the same data (a database document, a key's sequence),
    /// and this one was rolled back, nothing of it written. Running the unit of work again
    /// succeeds once the other has finished; the Kafka consumer does so by itself.
    #[error("a concurrent transaction wrote the same data; rolled back, run it again: {0}")]
    Conflict(#[source] BoxError),
    /// The backend reported an error that retrying will not fix.
    #[error("backend error: {0}")]
    Backend(#[source] BoxError),
    /// The inbox already holds this message for this consumer, found only when the unit of
    /// work committed (a backend that checks claims at commit, such as DynamoDB's conditional
    /// put, reports a concurrent second delivery this way). Nothing of the unit of work was
    /// written; the unit of work reports the message as a duplicate.
    #[error("message {id} was already applied by consumer {consumer:?}")]
    AlreadyApplied {
        /// The consumer that claimed the message.
        consumer: String,
        /// The message.
        id: crate::MessageId,
    },
    /// A stored row, document or item cannot be read back (a missing field, a value of the
    /// wrong type, an unknown status): something other than Tidings changed the store.
    /// Retrying will not help.
    #[error("corrupt {what}: {detail}")]
    Corrupt {
        /// What could not be read ("outbox row", "stored event"…).
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The configuration is inconsistent or incomplete.
    #[error("invalid configuration: {0}")]
    Configuration(String),
}

impl Error {
    /// Wraps a driver error that is not expected to go away by retrying.
    pub fn backend(source: impl Into<BoxError>) -> Self {
        Self::Backend(source.into())
    }

    /// A [`Corrupt`](Self::Corrupt) error: `what` could not be read because of `detail`.
    pub fn corrupt(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Corrupt {
            what: what.into(),
            detail: detail.into(),
        }
    }

    /// Wraps a driver error caused by an unreachable or overloaded server.
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self::Unavailable(source.into())
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unavailable(_) | Self::Conflict(_) | Self::Publish { .. }
        )
    }

    /// Whether the error is about the message itself (bad input); retrying never helps.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Self::InvalidMessage(_)
                | Self::InvalidTopic { .. }
                | Self::PayloadTooLarge { .. }
                | Self::Serialization { .. }
                | Self::MalformedEvent(_)
                | Self::NoTopic(_)
        )
    }
}
