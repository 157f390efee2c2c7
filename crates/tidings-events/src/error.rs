//! What can go wrong configuring and publishing typed events.

/// The error of this crate's configuration, topic names and publisher.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// A variable of the environment holds a value that cannot be used. Nothing was configured.
    #[error("{variable}={shown:?}: {reason}")]
    InvalidVariable {
        /// The variable, e.g. `USE_OUTBOX_PATTERN`.
        variable: &'static str,
        /// Its value as shown (a secret's is `***`).
        shown: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A variable the configuration needs is not set.
    #[error("{variable} is not set: {why}")]
    MissingVariable {
        /// The variable, e.g. `SERVICE_NAME`.
        variable: &'static str,
        /// What it is for.
        why: &'static str,
    },
    /// A setting given in code is not usable.
    #[error("{setting} = {value:?}: {reason}")]
    InvalidSetting {
        /// The setting, e.g. `topic_prefix`.
        setting: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A topic built from the prefix, the service and an event's names would not be a valid
    /// Kafka topic name. Nothing was published or staged.
    #[error("topic {topic:?} (from {from}) is not a valid Kafka topic name: {reason}")]
    InvalidTopic {
        /// The topic as built.
        topic: String,
        /// What it was built from, e.g. `aggregate type "user account"`.
        from: String,
        /// Kafka's rule it breaks.
        reason: String,
    },
    /// The outbox is on (`USE_OUTBOX_PATTERN`) and the call gave no unit of work to stage in.
    /// Nothing was sent.
    #[error(
        "the {kind} event was given no unit of work to stage in, and the outbox is on: pass the \
         unit of work, or turn the outbox off (USE_OUTBOX_PATTERN=false) to send at once"
    )]
    OutboxRequired {
        /// `audit`, `notification`, `domain` or `custom`.
        kind: &'static str,
    },
    /// An event was to be sent at once, and the publisher has no broker.
    #[error(
        "the {kind} event was to be sent at once, and the publisher has no broker (Events::with_broker)"
    )]
    NoBroker {
        /// `audit`, `notification`, `domain` or `custom`.
        kind: &'static str,
    },
    /// A value an event was to carry (an argument, a returned value) does not serialize to
    /// JSON. Nothing was published or staged.
    #[error("a value of the event does not serialize to JSON: {reason}")]
    Unserializable {
        /// serde's reason.
        reason: String,
    },
    /// Staging or publishing failed in Tidings.
    #[error(transparent)]
    Tidings(#[from] tidings_core::Error),
}

/// What `validate_topic` says is wrong with `topic`, if anything.
pub(crate) fn topic_problem(topic: &str) -> Option<String> {
    match tidings_core::validate_topic(topic) {
        Ok(()) => None,
        Err(tidings_core::Error::InvalidTopic { reason, .. }) => Some(reason.to_owned()),
        Err(other) => Some(other.to_string()),
    }
}
