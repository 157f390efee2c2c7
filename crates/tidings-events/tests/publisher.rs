//! The events publisher: staged in the caller's unit of work with its metadata filled in, sent
//! at once when the outbox is off, refused without a unit of work while it is on, and replaced
//! by a test double in a service's own tests.

use std::sync::{Arc, Mutex};

use serde_json::json;
use tidings_core::{Envelope, MessageId, cloudevents, context};
use tidings_events::{
    AuditEvent, AuditEventType, CustomEvent, DomainEvent, EventConfig, EventError, Events,
    NotificationEvent, NotificationEventType, Outbox, PublishEvents, Published,
};
use tidings_memory::{MemoryBackend, MemoryBroker};
use tidings_uow::UnitOfWork;

fn config() -> EventConfig {
    EventConfig::new("user-service")
        .with_topic_prefix("marty")
        .with_service_version("1.4.2")
}

#[tokio::test]
async fn in_a_unit_of_work_each_kind_is_staged_on_its_topic_with_its_metadata() {
    let events = Events::new(&config()).expect("valid");
    let uow = UnitOfWork::new(MemoryBackend::new());
    let staged: Vec<Envelope> = context::scope(context::Context::correlated("req-9"), async {
        uow.run(async |work| {
            let audit = AuditEvent::new(AuditEventType::DataCreated, "create_user", "user")
                .with_resource_id("user-123");
            events.publish_audit_event(Some(&mut *work), audit).await?;
            let welcome = NotificationEvent::new(
                NotificationEventType::UserWelcome,
                "user",
                vec!["user-123".into()],
                "Welcome",
                "Your account is ready.",
            );
            events
                .publish_notification_event(Some(&mut *work), welcome)
                .await?;
            let created = DomainEvent::new("user", "user-123", "user_created", json!({"n": 1}));
            events
                .publish_domain_event(Some(&mut *work), created)
                .await?;
            let custom = CustomEvent::new("sync_requested", "user-123", json!({}));
            events
                .publish(Some(&mut *work), "integration.events", custom)
                .await?;
            Ok::<_, EventError>(work.staged().to_vec())
        })
        .await
        .expect("unit of work")
    })
    .await;
    let topics: Vec<&str> = staged.iter().map(|e| e.topic.as_str()).collect();
    assert_eq!(
        topics,
        [
            "marty.audit.events",
            "marty.notification.events",
            "marty.user-service.user.user_created",
            "marty.integration.events"
        ]
    );
    for envelope in &staged {
        assert_eq!(envelope.key, "user-123");
        assert_eq!(envelope.correlation_id.as_deref(), Some("req-9"));
        let body: serde_json::Value = envelope.decode_json().expect("json");
        assert_eq!(body["metadata"]["service_name"], "user-service");
        assert_eq!(body["metadata"]["service_version"], "1.4.2");
        assert_eq!(body["metadata"]["correlation_id"], "req-9");
    }
    assert_eq!(staged[0].message_type, "DATA_CREATED");
    assert_eq!(staged[1].message_type, "USER_WELCOME");
}

#[tokio::test]
async fn with_the_outbox_off_an_event_is_sent_at_once() {
    let broker = MemoryBroker::new();
    let events = Events::new(&config().with_outbox(false))
        .expect("valid")
        .with_broker(Arc::new(broker.clone()));
    let created = DomainEvent::new("user", "user-7", "user_created", json!({}));
    let id = events
        .publish_domain_event(None, created)
        .await
        .expect("sent");
    let records = broker.records("marty.user-service.user.user_created");
    assert_eq!(records.len(), 1);
    let sent = cloudevents::decode(&records[0]).expect("a CloudEvent");
    assert_eq!((sent.id, sent.key.as_str()), (id, "user-7"));
}

#[tokio::test]
async fn with_the_outbox_on_an_event_without_a_unit_of_work_is_refused() {
    let broker = MemoryBroker::new();
    let events = Events::new(&config())
        .expect("valid")
        .with_broker(Arc::new(broker.clone()));
    let audit = AuditEvent::new(AuditEventType::UserLogin, "login", "session");
    let error = events
        .publish_audit_event(None, audit)
        .await
        .expect_err("no unit of work");
    assert!(
        matches!(error, EventError::OutboxRequired { kind: "audit" }),
        "{error}"
    );
    assert!(broker.records("marty.audit.events").is_empty());
    let bad = DomainEvent::new("user account", "u-1", "created", json!({}));
    let error = events
        .publish_domain_event(None, bad)
        .await
        .expect_err("a space in the aggregate type");
    assert!(error.to_string().contains("\"user account\""), "{error}");
}

/// A service as users write one: it holds the publisher as a trait object.
struct UserService {
    events: Arc<dyn PublishEvents>,
}

impl UserService {
    async fn create_user(&self, user_id: &str, email: &str) -> Result<(), EventError> {
        let created = DomainEvent::new("user", user_id, "user_created", json!({ "email": email }));
        self.events.publish_domain_event(None, created).await?;
        Ok(())
    }
}

/// The test double: notes each domain event it is handed.
#[derive(Default)]
struct Recorded(Mutex<Vec<DomainEvent>>);

impl PublishEvents for Recorded {
    fn publish_audit_event<'a>(
        &'a self,
        _: Option<&'a mut dyn Outbox>,
        _: AuditEvent,
    ) -> Published<'a> {
        Box::pin(async { unreachable!("this service publishes no audit event") })
    }
    fn publish_notification_event<'a>(
        &'a self,
        _: Option<&'a mut dyn Outbox>,
        _: NotificationEvent,
    ) -> Published<'a> {
        Box::pin(async { unreachable!("this service sends no notification") })
    }
    fn publish_domain_event<'a>(
        &'a self,
        _: Option<&'a mut dyn Outbox>,
        event: DomainEvent,
    ) -> Published<'a> {
        self.0.lock().expect("lock").push(event);
        Box::pin(async { Ok(MessageId::new()) })
    }
    fn publish<'a>(
        &'a self,
        _: Option<&'a mut dyn Outbox>,
        _: &'a str,
        _: CustomEvent,
    ) -> Published<'a> {
        Box::pin(async { unreachable!("this service publishes no custom event") })
    }
}

#[tokio::test]
async fn a_service_test_swaps_the_publisher_for_a_double_and_asserts_the_call() {
    let recorded = Arc::new(Recorded::default());
    let service = UserService {
        events: recorded.clone(),
    };
    service
        .create_user("user-123", "test@example.com")
        .await
        .expect("created");
    let calls = recorded.0.lock().expect("lock");
    assert_eq!(
        *calls,
        [DomainEvent::new(
            "user",
            "user-123",
            "user_created",
            json!({ "email": "test@example.com" })
        )]
    );
}

/// Publishes one audit event in a unit of work with `config`, under a Prometheus recorder of
/// this thread's own, in a context whose traceparent names trace `4bf9…4736`; returns the
/// scrape and the event's trace id.
fn publish_recorded(config: &EventConfig) -> (String, Option<String>) {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let scrape = recorder.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let events = Events::new(config).expect("valid");
    let context = context::Context {
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        ..context::Context::correlated("req-1")
    };
    let staged = metrics::with_local_recorder(&recorder, || {
        runtime.block_on(context::scope(context, async {
            let uow = UnitOfWork::new(MemoryBackend::new());
            uow.run(async |work| {
                let audit = AuditEvent::new(AuditEventType::UserLogin, "login", "session");
                events.publish_audit_event(Some(&mut *work), audit).await?;
                Ok::<_, EventError>(work.staged()[0].clone())
            })
            .await
            .expect("unit of work")
        }))
    });
    let body: serde_json::Value = staged.decode_json().expect("json");
    let trace_id = body["metadata"]["trace_id"].as_str().map(str::to_owned);
    (scrape.render(), trace_id)
}

#[test]
fn metrics_and_tracing_are_switched_by_the_configuration() {
    let series = r#"events_published_total{kind="audit",path="outbox"} 1"#;
    let (scrape, trace_id) = publish_recorded(&config());
    assert!(scrape.contains(series), "{scrape}");
    assert_eq!(
        trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );

    let mut off = config();
    (off.enable_metrics, off.enable_tracing) = (false, false);
    let (scrape, trace_id) = publish_recorded(&off);
    assert!(!scrape.contains("events_published_total"), "{scrape}");
    assert_eq!(trace_id, None);
}
