//! Typed events for the kinds most services publish — audit trails, notifications to users,
//! domain events — with the names services migrating to Tidings already use, their topic
//! naming rules, and their configuration from the environment. Re-exported by `tidings` as
//! `tidings::events` (feature `events`).
//!
//! - [`AuditEvent`], [`NotificationEvent`], [`DomainEvent`]: each a [`Message`] that stages
//!   in a unit of work like any other; [`AuditEventType`] and [`NotificationEventType`] name
//!   the usual types, with `Custom` for a service's own.
//! - [`EventMetadata`]: the service, version, correlation id, user and trace id of an event.
//! - [`TopicNames`]: `{prefix}.audit.events`, `{prefix}.notification.events`,
//!   `{prefix}.{service}.{aggregate}.{event_type}`, `{prefix}.{topic}`, checked.
//! - [`Events`]: the publisher, behind the object-safe [`PublishEvents`] (hold it as
//!   `Arc<dyn PublishEvents>`, hand a test a double): `publish_audit_event`,
//!   `publish_notification_event`, `publish_domain_event` and `publish`, each staging in the
//!   caller's unit of work (any [`Outbox`]) when given one, else sending at once — refused
//!   while the outbox is on, so that no event escapes the transaction by mistake.
//! - [`EventConfig`]: from code, or from `SERVICE_NAME`, `EVENT_TOPIC_PREFIX`, `KAFKA_BROKERS`
//!   and the rest of [`config::VARIABLES`]; a bad value is an error naming its variable.
//!
//! [`Message`]: tidings_core::Message

pub mod config;
mod error;
mod events;
mod kinds;
mod metadata;
mod publisher;
#[doc(hidden)]
pub mod __private {
    //! For the code the publishing attributes write; not an API.
    pub use crate::support::*;
}
mod recording;
mod support;
mod topics;

pub use config::EventConfig;
pub use error::EventError;
pub use events::{AnyEvent, AuditEvent, CustomEvent, DomainEvent, NotificationEvent, TypedEvent};
pub use kinds::{AuditEventType, NotificationEventType};
pub use metadata::{EventMetadata, trace_id_of};
pub use publisher::{Events, HasEvents, Outbox, PublishEvents, Published};
pub use recording::{RecordedCall, RecordingPublisher};
pub use topics::TopicNames;
