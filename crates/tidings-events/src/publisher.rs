//! The publisher of typed events: each `publish_…` call routes the event to its topic, fills
//! in its metadata, and stages it in the caller's unit of work or sends it at once.

use std::sync::Arc;

use chrono::Utc;
use tidings_core::{
    BoxFuture, DynEventPublisher, EnvelopeFactory, MessageId, context, metric, trace,
};
use tidings_uow::Work;

use crate::{
    AnyEvent, AuditEvent, CustomEvent, DomainEvent, EventConfig, EventError, EventMetadata,
    NotificationEvent, TopicNames, TypedEvent, trace_id_of,
};

/// Where an event is staged: the caller's unit of work. Implemented for every
/// [`Work`](tidings_uow::Work), so a handler passes `Some(work)`.
pub trait Outbox: Send {
    /// Stages `event` to be written with the unit of work's other writes.
    fn stage_event(&mut self, event: &AnyEvent) -> tidings_core::Result<MessageId>;
}

impl<Tx: Send> Outbox for Work<Tx> {
    fn stage_event(&mut self, event: &AnyEvent) -> tidings_core::Result<MessageId> {
        self.stage(event)
    }
}

/// The result of a `publish_…` call: the event's id.
pub type Published<'a> = BoxFuture<'a, Result<MessageId, EventError>>;

/// The four ways to publish, object-safe: a service holds `Arc<dyn PublishEvents>` and its
/// tests hand it a double. Each call stages the event in `outbox` when there is one, and sends
/// it at once otherwise (refused while the outbox is on).
pub trait PublishEvents: Send + Sync {
    /// An audit event, to `{prefix}.audit.events` (or the audit topic configured).
    fn publish_audit_event<'a>(
        &'a self,
        outbox: Option<&'a mut dyn Outbox>,
        event: AuditEvent,
    ) -> Published<'a>;

    /// A notification, to `{prefix}.notification.events` (or the one configured).
    fn publish_notification_event<'a>(
        &'a self,
        outbox: Option<&'a mut dyn Outbox>,
        event: NotificationEvent,
    ) -> Published<'a>;

    /// A domain event, to `{prefix}.{service}.{aggregate_type}.{event_type}`.
    fn publish_domain_event<'a>(
        &'a self,
        outbox: Option<&'a mut dyn Outbox>,
        event: DomainEvent,
    ) -> Published<'a>;

    /// An event of the service's own kind, to `{prefix}.{topic}`.
    fn publish<'a>(
        &'a self,
        outbox: Option<&'a mut dyn Outbox>,
        topic: &'a str,
        event: CustomEvent,
    ) -> Published<'a>;
}

/// A service that holds a publisher: where the publishing attributes (`#[audit_event]` and the
/// rest) on its methods find it.
pub trait HasEvents {
    /// The service's publisher.
    fn events(&self) -> &dyn PublishEvents;
}

/// A shared publisher publishes as the one it shares.
impl<P: PublishEvents + ?Sized> PublishEvents for Arc<P> {
    fn publish_audit_event<'a>(
        &'a self,
        outbox: Option<&'a mut dyn Outbox>,
        event: AuditEvent,
    ) -> Published<'a> {
        (**self).publish_audit_event(outbox, event)
    }

    fn publish_notification_event<'a>(
        &'a self,
        outbox: Option<&'a mut dyn Outbox>,
        event: NotificationEvent,
    ) -> Published<'a> {
        (**self).publish_notification_event(outbox, event)
    }

    fn publish_domain_event<'a>(
        &'a self,
        outbox: Option<&'a mut dyn Outbox>,
        event: DomainEvent,
    ) -> Published<'a> {
        (**self).publish_domain_event(outbox, event)
    }

    fn publish<'a>(
        &'a self,
        outbox: Option<&'a mut dyn Outbox>,
        topic: &'a str,
        event: CustomEvent,
    ) -> Published<'a> {
        (**self).publish(outbox, topic, event)
    }
}

/// The publisher built from an [`EventConfig`].
#[derive(Clone)]
pub struct Events {
    topics: TopicNames,
    defaults: EventMetadata,
    use_outbox: bool,
    tracing: bool,
    metrics: bool,
    broker: Option<Arc<dyn DynEventPublisher>>,
    factory: Arc<EnvelopeFactory>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("topics", &self.topics)
            .field("use_outbox", &self.use_outbox)
            .field("broker", &self.broker.is_some())
            .finish_non_exhaustive()
    }
}

impl Events {
    /// The publisher of `config`, its topic names checked. Without a broker it only stages.
    pub fn new(config: &EventConfig) -> Result<Self, EventError> {
        let mut defaults = EventMetadata::new(&config.service_name);
        defaults.service_version = config.service_version.clone();
        Ok(Self {
            topics: config.topics()?,
            defaults,
            use_outbox: config.use_outbox,
            tracing: config.enable_tracing,
            metrics: config.enable_metrics,
            broker: None,
            factory: Arc::new(EnvelopeFactory::new(&config.service_name)),
        })
    }

    /// Sends through `broker` what is published without a unit of work.
    pub fn with_broker(mut self, broker: Arc<dyn DynEventPublisher>) -> Self {
        self.broker = Some(broker);
        self
    }

    /// The topic names in use.
    pub fn topics(&self) -> &TopicNames {
        &self.topics
    }

    /// `given`, with the service, the current correlation and trace, and now filled in.
    fn metadata(&self, given: EventMetadata) -> EventMetadata {
        let current = context::current();
        let mut defaults = self.defaults.clone();
        defaults.correlation_id = current.as_ref().and_then(|c| c.correlation_id.clone());
        if self.tracing {
            let parent = current
                .and_then(|c| c.traceparent)
                .or_else(trace::current_traceparent);
            defaults.trace_id = parent.as_deref().and_then(trace_id_of).map(str::to_owned);
        }
        defaults.timestamp = Some(Utc::now());
        given.or(&defaults)
    }

    /// Routes `event` to `topic` and fills in its metadata.
    fn prepare<E: TypedEvent>(&self, event: &mut E, topic: String) {
        event.set_topic(topic);
        let given = std::mem::take(event.metadata_mut());
        *event.metadata_mut() = self.metadata(given);
    }

    async fn deliver(
        &self,
        outbox: Option<&mut dyn Outbox>,
        kind: &'static str,
        event: AnyEvent,
    ) -> Result<MessageId, EventError> {
        let (id, path) = match outbox {
            Some(outbox) => (outbox.stage_event(&event)?, "outbox"),
            None if self.use_outbox => return Err(EventError::OutboxRequired { kind }),
            None => (self.send(kind, &event).await?, "direct"),
        };
        if self.metrics {
            metrics::counter!(metric::EVENTS_PUBLISHED, "kind" => kind, "path" => path)
                .increment(1);
        }
        Ok(id)
    }

    async fn send(&self, kind: &'static str, event: &AnyEvent) -> Result<MessageId, EventError> {
        let broker = self.broker.as_ref().ok_or(EventError::NoBroker { kind })?;
        let envelope = self.factory.envelope(event, context::current().as_ref())?;
        broker.publish_boxed(&envelope).await?;
        Ok(envelope.id)
    }
}

impl PublishEvents for Events {
    fn publish_audit_event<'a>(
        &'a self,
        outbox: Option<&'a mut dyn Outbox>,
        mut event: AuditEvent,
    ) -> Published<'a> {
        Box::pin(async move {
            self.prepare(&mut event, self.topics.audit().to_owned());
            self.deliver(outbox, "audit", AnyEvent::Audit(event)).await
        })
    }

    fn publish_notification_event<'a>(
        &'a self,
        outbox: Option<&'a mut dyn Outbox>,
        mut event: NotificationEvent,
    ) -> Published<'a> {
        Box::pin(async move {
            self.prepare(&mut event, self.topics.notification().to_owned());
            self.deliver(outbox, "notification", AnyEvent::Notification(event))
                .await
        })
    }

    fn publish_domain_event<'a>(
        &'a self,
        outbox: Option<&'a mut dyn Outbox>,
        mut event: DomainEvent,
    ) -> Published<'a> {
        Box::pin(async move {
            let topic = self
                .topics
                .domain(&event.aggregate_type, &event.event_type)?;
            self.prepare(&mut event, topic);
            self.deliver(outbox, "domain", AnyEvent::Domain(event))
                .await
        })
    }

    fn publish<'a>(
        &'a self,
        outbox: Option<&'a mut dyn Outbox>,
        topic: &'a str,
        mut event: CustomEvent,
    ) -> Published<'a> {
        Box::pin(async move {
            let topic = self.topics.custom(topic)?;
            self.prepare(&mut event, topic);
            self.deliver(outbox, "custom", AnyEvent::Custom(event))
                .await
        })
    }
}
