//! A publisher for a service's own tests: it notes every call and publishes nothing, so a test
//! asserts what the service published — the mock of the framework users migrate from.

use std::sync::{Mutex, PoisonError};

use tidings_core::MessageId;

use crate::{
    AnyEvent, AuditEvent, CustomEvent, DomainEvent, NotificationEvent, Outbox, PublishEvents,
    Published,
};

/// One call a service made.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RecordedCall {
    /// The event as the service handed it over (no topic or metadata filled in).
    pub event: AnyEvent,
    /// The topic of a `publish` call.
    pub topic: Option<String>,
    /// Whether the call gave a unit of work to stage in.
    pub staged: bool,
}

/// Notes each call; answers each with a new id. Hold it as `Arc<RecordingPublisher>` and give
/// the service a clone as its `Arc<dyn PublishEvents>`.
#[derive(Debug, Default)]
pub struct RecordingPublisher {
    calls: Mutex<Vec<RecordedCall>>,
}

impl RecordingPublisher {
    /// A publisher that has noted nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The calls so far, in order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The domain events handed over so far, in order.
    pub fn domain_events(&self) -> Vec<DomainEvent> {
        self.calls()
            .into_iter()
            .filter_map(|call| match call.event {
                AnyEvent::Domain(event) => Some(event),
                _ => None,
            })
            .collect()
    }

    fn note<'a>(
        &'a self,
        outbox: Option<&'a mut dyn Outbox>,
        topic: Option<&str>,
        event: AnyEvent,
    ) -> Published<'a> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(RecordedCall {
                event,
                topic: topic.map(str::to_owned),
                staged: outbox.is_some(),
            });
        Box::pin(async { Ok(MessageId::new()) })
    }
}

impl PublishEvents for RecordingPublisher {
    fn publish_audit_event<'a>(
        &'a self,
        outbox: Option<&'a mut dyn Outbox>,
        event: AuditEvent,
    ) -> Published<'a> {
        self.note(outbox, None, AnyEvent::Audit(event))
    }

    fn publish_notification_event<'a>(
        &'a self,
        outbox: Option<&'a mut dyn Outbox>,
        event: NotificationEvent,
    ) -> Published<'a> {
        self.note(outbox, None, AnyEvent::Notification(event))
    }

    fn publish_domain_event<'a>(
        &'a self,
        outbox: Option<&'a mut dyn Outbox>,
        event: DomainEvent,
    ) -> Published<'a> {
        self.note(outbox, None, AnyEvent::Domain(event))
    }

    fn publish<'a>(
        &'a self,
        outbox: Option<&'a mut dyn Outbox>,
        topic: &'a str,
        event: CustomEvent,
    ) -> Published<'a> {
        self.note(outbox, Some(topic), AnyEvent::Custom(event))
    }
}
