use std::collections::HashMap;

use crate::{Error, Result};

/// Longest topic name Kafka accepts.
const MAX_TOPIC_LEN: usize = 249;

/// Checks a topic name against the rules Kafka enforces, so a bad name fails when an event is
/// staged rather than when the relay tries to send it.
pub fn validate_topic(topic: &str) -> Result<()> {
    let reason = if topic.is_empty() {
        Some("it is empty")
    } else if topic.len() > MAX_TOPIC_LEN {
        Some("it is longer than 249 characters")
    } else if topic == "." || topic == ".." {
        Some("'.' and '..' are reserved")
    } else if !topic
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Some("only ASCII letters, digits, '.', '_' and '-' are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidTopic {
            topic: topic.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Chooses the topic of a message that does not name one itself.
pub trait TopicRouter: Send + Sync {
    /// The topic for messages of `message_type`, or `None` when this router does not know it.
    fn topic_for(&self, message_type: &str) -> Option<String>;
}

/// A table from message type to topic.
impl TopicRouter for HashMap<String, String> {
    fn topic_for(&self, message_type: &str) -> Option<String> {
        self.get(message_type).cloned()
    }
}

/// Any function from message type to topic.
impl<F> TopicRouter for F
where
    F: Fn(&str) -> Option<String> + Send + Sync,
{
    fn topic_for(&self, message_type: &str) -> Option<String> {
        self(message_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_kafka_names_and_rejects_the_rest() {
        for good in ["orders", "orders.v1", "a_b-c.D9", &"x".repeat(249)] {
            assert!(validate_topic(good).is_ok(), "{good} should be valid");
        }
        for bad in [
            "",
            ".",
            "..",
            "orders/v1",
            "with space",
            "ü",
            &"x".repeat(250),
        ] {
            let err = validate_topic(bad).expect_err(bad);
            assert!(matches!(err, Error::InvalidTopic { .. }), "{bad}: {err}");
        }
    }
}
