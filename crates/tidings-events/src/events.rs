//! The three kinds of typed event. Each is a [`Message`]: the topic is the one its publisher
//! chose ([`TopicNames`](crate::TopicNames)), the type its event type, the metadata's
//! correlation id and time those of the envelope.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tidings_core::Message;

use crate::{AuditEventType, EventMetadata, NotificationEventType};

/// Who did what to which resource: for compliance, security monitoring and debugging.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEvent {
    /// What kind of thing happened.
    pub event_type: AuditEventType,
    /// The operation, e.g. `create_user`.
    pub action: String,
    /// The kind of resource, e.g. `user`.
    pub resource_type: String,
    /// Which one; the partition key (the resource type when there is none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// What the operation did, sensitive values left out.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub operation_details: Map<String, Value>,
    /// Where it comes from.
    pub metadata: EventMetadata,
    #[serde(skip)]
    topic: String,
}

impl AuditEvent {
    /// `event_type` of `action` on a resource of `resource_type`.
    pub fn new(
        event_type: AuditEventType,
        action: impl Into<String>,
        resource_type: impl Into<String>,
    ) -> Self {
        Self {
            event_type,
            action: action.into(),
            resource_type: resource_type.into(),
            resource_id: None,
            operation_details: Map::new(),
            metadata: EventMetadata::default(),
            topic: String::new(),
        }
    }

    /// On the resource `id`.
    pub fn with_resource_id(mut self, id: impl Into<String>) -> Self {
        self.resource_id = Some(id.into());
        self
    }

    /// With `details` of the operation.
    pub fn with_details(mut self, details: Map<String, Value>) -> Self {
        self.operation_details = details;
        self
    }
}

/// A message to users or operators, for the service that delivers it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NotificationEvent {
    /// What it is about.
    pub event_type: NotificationEventType,
    /// The kind of recipient, e.g. `user`.
    pub recipient_type: String,
    /// Who receives it; the first is the partition key.
    pub recipient_ids: Vec<String>,
    /// Its subject line.
    pub subject: String,
    /// Its text.
    pub message: String,
    /// Where it comes from.
    pub metadata: EventMetadata,
    #[serde(skip)]
    topic: String,
}

impl NotificationEvent {
    /// `event_type` for `recipient_ids` (of `recipient_type`), with `subject` and `message`.
    pub fn new(
        event_type: NotificationEventType,
        recipient_type: impl Into<String>,
        recipient_ids: Vec<String>,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            event_type,
            recipient_type: recipient_type.into(),
            recipient_ids,
            subject: subject.into(),
            message: message.into(),
            metadata: EventMetadata::default(),
            topic: String::new(),
        }
    }
}

/// A fact of the business about one aggregate, for other services.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DomainEvent {
    /// The kind of aggregate, e.g. `user`; the CloudEvents subject.
    pub aggregate_type: String,
    /// Which one; the partition key, so one aggregate's events keep their order.
    pub aggregate_id: String,
    /// What happened, e.g. `user_created`; the CloudEvents type.
    pub event_type: String,
    /// Its data.
    pub event_data: Value,
    /// Where it comes from.
    pub metadata: EventMetadata,
    #[serde(skip)]
    topic: String,
}

impl DomainEvent {
    /// `event_type` of aggregate `aggregate_id` (of `aggregate_type`), carrying `event_data`.
    pub fn new(
        aggregate_type: impl Into<String>,
        aggregate_id: impl Into<String>,
        event_type: impl Into<String>,
        event_data: Value,
    ) -> Self {
        Self {
            aggregate_type: aggregate_type.into(),
            aggregate_id: aggregate_id.into(),
            event_type: event_type.into(),
            event_data,
            metadata: EventMetadata::default(),
            topic: String::new(),
        }
    }
}

/// An event of the service's own kind, for a topic it names (`{prefix}.{topic}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CustomEvent {
    /// What happened; the CloudEvents type.
    pub event_type: String,
    /// The partition key: one key's events keep their order.
    pub key: String,
    /// Its data.
    pub data: Value,
    /// Where it comes from.
    pub metadata: EventMetadata,
    #[serde(skip)]
    topic: String,
}

impl CustomEvent {
    /// `event_type` under `key`, carrying `data`.
    pub fn new(event_type: impl Into<String>, key: impl Into<String>, data: Value) -> Self {
        Self {
            event_type: event_type.into(),
            key: key.into(),
            data,
            metadata: EventMetadata::default(),
            topic: String::new(),
        }
    }
}

/// What the kinds share: where they go and what they say of themselves.
pub trait TypedEvent: Message {
    /// Sends it to `topic` (the publisher does, from its [`TopicNames`](crate::TopicNames)).
    fn set_topic(&mut self, topic: String);
    /// Its metadata, for the publisher to fill in.
    fn metadata_mut(&mut self) -> &mut EventMetadata;
}

/// `Message`, `TypedEvent` and `with_metadata` for one kind: its type, aggregate and subject
/// as given.
macro_rules! typed_event {
    ($kind:ty, |$event:ident| kind: $message_type:expr, aggregate: $aggregate:expr, subject: $subject:expr) => {
        impl Message for $kind {
            fn message_type(&self) -> &str {
                let $event = self;
                $message_type
            }
            fn aggregate_id(&self) -> String {
                let $event = self;
                $aggregate
            }
            fn topic(&self) -> Option<&str> {
                (!self.topic.is_empty()).then_some(self.topic.as_str())
            }
            fn subject(&self) -> Option<String> {
                #[allow(unused_variables)] // a kind without a subject does not read the event
                let $event = self;
                $subject
            }
            fn correlation_id(&self) -> Option<String> {
                self.metadata.correlation_id.clone()
            }
            fn occurred_at(&self) -> DateTime<Utc> {
                self.metadata.timestamp.unwrap_or_else(Utc::now)
            }
        }

        impl $kind {
            /// With `metadata` (what it leaves out, the publisher fills in).
            pub fn with_metadata(mut self, metadata: EventMetadata) -> Self {
                self.metadata = metadata;
                self
            }
        }

        impl TypedEvent for $kind {
            fn set_topic(&mut self, topic: String) {
                self.topic = topic;
            }
            fn metadata_mut(&mut self) -> &mut EventMetadata {
                &mut self.metadata
            }
        }
    };
}

typed_event!(AuditEvent, |e| kind: e.event_type.as_str(),
    aggregate: e.resource_id.clone().unwrap_or_else(|| e.resource_type.clone()),
    subject: Some(e.resource_type.clone()));
typed_event!(NotificationEvent, |e| kind: e.event_type.as_str(),
    aggregate: e.recipient_ids.first().cloned().unwrap_or_else(|| e.recipient_type.clone()),
    subject: Some(e.recipient_type.clone()));
typed_event!(DomainEvent, |e| kind: &e.event_type,
    aggregate: e.aggregate_id.clone(),
    subject: Some(e.aggregate_type.clone()));
typed_event!(CustomEvent, |e| kind: &e.event_type,
    aggregate: e.key.clone(),
    subject: None);

/// Any of the four kinds: what an [`Outbox`](crate::Outbox) stages, one method for all. Its
/// body is the inner event's.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum AnyEvent {
    /// An audit event.
    Audit(AuditEvent),
    /// A notification.
    Notification(NotificationEvent),
    /// A domain event.
    Domain(DomainEvent),
    /// An event of the service's own kind.
    Custom(CustomEvent),
}

/// A `Message` method of [`AnyEvent`], the inner event's.
macro_rules! delegate {
    ($($method:ident -> $out:ty;)*) => {
        impl Message for AnyEvent {
            $(fn $method(&self) -> $out {
                match self {
                    Self::Audit(e) => e.$method(),
                    Self::Notification(e) => e.$method(),
                    Self::Domain(e) => e.$method(),
                    Self::Custom(e) => e.$method(),
                }
            })*
        }
    };
}

delegate! {
    message_type -> &str;
    aggregate_id -> String;
    topic -> Option<&str>;
    subject -> Option<String>;
    correlation_id -> Option<String>;
    occurred_at -> DateTime<Utc>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_says_its_type_key_and_topic() {
        let mut audit = AuditEvent::new(AuditEventType::DataCreated, "create_user", "user")
            .with_resource_id("user-123");
        assert_eq!(audit.topic(), None, "no topic before a publisher routes it");
        audit.set_topic("marty.audit.events".into());
        assert_eq!(
            (audit.message_type(), audit.aggregate_id(), audit.topic()),
            (
                "DATA_CREATED",
                "user-123".to_owned(),
                Some("marty.audit.events")
            )
        );
        let anonymous = AuditEvent::new(AuditEventType::ServiceStarted, "start", "service");
        assert_eq!(anonymous.aggregate_id(), "service");

        let note = NotificationEvent::new(
            NotificationEventType::UserWelcome,
            "user",
            vec!["user-123".into(), "user-456".into()],
            "Welcome",
            "Your account is ready.",
        );
        assert_eq!(
            (note.message_type(), note.partition_key()),
            ("USER_WELCOME", "user-123".into())
        );

        let domain = DomainEvent::new("user", "user-123", "user_created", serde_json::json!({}));
        assert_eq!(domain.message_type(), "user_created");
        assert_eq!(domain.subject().as_deref(), Some("user"));
    }

    #[test]
    fn the_body_round_trips_without_the_topic() {
        let mut event =
            DomainEvent::new("user", "u-1", "user_created", serde_json::json!({"a": 1}))
                .with_metadata(EventMetadata::new("users").with_user_id("admin"));
        event.set_topic("t".into());
        let body = serde_json::to_value(&event).expect("json");
        assert_eq!(body["metadata"]["user_id"], "admin");
        assert!(body.get("topic").is_none());
        let back: DomainEvent = serde_json::from_value(body).expect("decode");
        assert_eq!((back.aggregate_id.as_str(), back.topic()), ("u-1", None));
    }
}
