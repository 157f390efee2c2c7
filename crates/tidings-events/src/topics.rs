//! Topic names: audit `{prefix}.audit.events`, notifications `{prefix}.notification.events`
//! (each may be replaced by a topic of the service's choosing), domain events
//! `{prefix}.{service}.{aggregate}.{event_type}`, custom `{prefix}.{topic}`. Without a prefix,
//! the names start at the next part. The prefix, the service and the overrides are checked when
//! the names are built; an aggregate or event type that would make a bad topic is refused when
//! the event is published, naming it.

use crate::error::{EventError, topic_problem};

/// The topics of one service's events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicNames {
    prefix: String,
    service: String,
    audit: String,
    notification: String,
}

impl TopicNames {
    /// The names under `prefix` (may be empty) for service `service`.
    pub fn new(prefix: &str, service: &str) -> Result<Self, EventError> {
        check_part("topic_prefix", prefix, true)?;
        check_part("service_name", service, false)?;
        Ok(Self {
            audit: join(prefix, &["audit", "events"]),
            notification: join(prefix, &["notification", "events"]),
            prefix: prefix.to_owned(),
            service: service.to_owned(),
        })
    }

    /// Sends audit events to `topic` (the whole name) instead.
    pub fn with_audit_topic(mut self, topic: &str) -> Result<Self, EventError> {
        self.audit = checked_override("audit_topic", topic)?;
        Ok(self)
    }

    /// Sends notifications to `topic` (the whole name) instead.
    pub fn with_notification_topic(mut self, topic: &str) -> Result<Self, EventError> {
        self.notification = checked_override("notification_topic", topic)?;
        Ok(self)
    }

    /// The audit events' topic.
    pub fn audit(&self) -> &str {
        &self.audit
    }

    /// The notifications' topic.
    pub fn notification(&self) -> &str {
        &self.notification
    }

    /// The service's name, as in domain topics.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// `{prefix}.{service}.{aggregate_type}.{event_type}`.
    pub fn domain(&self, aggregate_type: &str, event_type: &str) -> Result<String, EventError> {
        let topic = join(&self.prefix, &[&self.service, aggregate_type, event_type]);
        let from = || format!("aggregate type {aggregate_type:?} and event type {event_type:?}");
        checked(topic, from)
    }

    /// `{prefix}.{topic}`.
    pub fn custom(&self, topic: &str) -> Result<String, EventError> {
        checked(join(&self.prefix, &[topic]), || format!("topic {topic:?}"))
    }
}

fn join(prefix: &str, parts: &[&str]) -> String {
    let mut topic = prefix.to_owned();
    for part in parts {
        if !topic.is_empty() {
            topic.push('.');
        }
        topic.push_str(part);
    }
    topic
}

fn checked(topic: String, from: impl FnOnce() -> String) -> Result<String, EventError> {
    match topic_problem(&topic) {
        None => Ok(topic),
        Some(reason) => Err(EventError::InvalidTopic {
            topic,
            from: from(),
            reason,
        }),
    }
}

/// A part of every topic name: a valid topic name itself (so that no name made with it can
/// break Kafka's rules on its account), or empty where `may_be_empty`.
fn check_part(setting: &'static str, value: &str, may_be_empty: bool) -> Result<(), EventError> {
    if value.is_empty() && may_be_empty {
        return Ok(());
    }
    match topic_problem(value) {
        None => Ok(()),
        Some(reason) => Err(EventError::InvalidSetting {
            setting,
            value: value.to_owned(),
            reason: format!("it goes into every topic name, and {reason}"),
        }),
    }
}

fn checked_override(setting: &'static str, topic: &str) -> Result<String, EventError> {
    match topic_problem(topic) {
        None => Ok(topic.to_owned()),
        Some(reason) => Err(EventError::InvalidSetting {
            setting,
            value: topic.to_owned(),
            reason: format!("not a valid Kafka topic name: {reason}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_conventions() {
        let topics = TopicNames::new("marty", "user-service").expect("valid");
        assert_eq!(topics.audit(), "marty.audit.events");
        assert_eq!(topics.notification(), "marty.notification.events");
        assert_eq!(
            topics.domain("user", "user_created").expect("valid"),
            "marty.user-service.user.user_created"
        );
        assert_eq!(
            topics.custom("integration.events").expect("valid"),
            "marty.integration.events"
        );
        let bare = TopicNames::new("", "billing").expect("valid");
        assert_eq!(bare.audit(), "audit.events");
        assert_eq!(
            bare.domain("invoice", "paid").expect("valid"),
            "billing.invoice.paid"
        );
    }

    #[test]
    fn overrides_replace_the_whole_name() {
        let topics = TopicNames::new("marty", "users")
            .and_then(|t| t.with_audit_topic("compliance.audit"))
            .and_then(|t| t.with_notification_topic("mail.out"))
            .expect("valid");
        assert_eq!(
            (topics.audit(), topics.notification()),
            ("compliance.audit", "mail.out")
        );
    }

    #[test]
    fn bad_parts_are_refused_when_configured_and_bad_names_when_sent() {
        let error = TopicNames::new("my prefix", "users").expect_err("a space");
        assert!(
            error
                .to_string()
                .starts_with("topic_prefix = \"my prefix\""),
            "{error}"
        );
        let error = TopicNames::new("marty", "").expect_err("empty");
        assert!(
            error.to_string().starts_with("service_name = \"\""),
            "{error}"
        );
        let error = TopicNames::new("marty", "users")
            .and_then(|t| t.with_audit_topic("a/b"))
            .expect_err("a slash");
        assert!(
            error.to_string().starts_with("audit_topic = \"a/b\""),
            "{error}"
        );
        let topics = TopicNames::new("marty", "users").expect("valid");
        let error = topics
            .domain("user account", "created")
            .expect_err("a space");
        assert!(error.to_string().contains("\"user account\""), "{error}");
        let long = "x".repeat(250);
        assert!(topics.custom(&long).is_err());
    }
}
