//! Typed events through the outbox: an audit event and a domain event staged in one SQLite unit
//! of work with the service's own write, relayed, and read back from the broker with their
//! topics, types, keys and metadata.

use tidings::{
    cloudevents,
    events::{AuditEvent, AuditEventType, DomainEvent, EventConfig, EventMetadata, TypedEvent},
    memory::MemoryBroker,
    relay::{Relay, RelayConfig},
    sqlite::{SqliteBackend, SqliteUnitOfWork},
};

#[tokio::test]
async fn typed_events_stage_with_the_business_write_and_reach_their_topics() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/users.db", dir.path().display());
    let backend = SqliteBackend::connect(&url).await.expect("open");
    backend.migrate().await.expect("migrate");
    sqlx::query("CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL)")
        .execute(backend.pool())
        .await
        .expect("create users");
    let config = EventConfig::new("user-service").with_topic_prefix("marty");
    let topics = config.topics().expect("valid names");
    let metadata = EventMetadata::new("user-service")
        .with_correlation_id("req-7")
        .with_user_id("admin");

    let mut audit = AuditEvent::new(AuditEventType::DataCreated, "create_user", "user")
        .with_resource_id("user-123")
        .with_metadata(metadata.clone());
    audit.set_topic(topics.audit().to_owned());
    let mut created = DomainEvent::new(
        "user",
        "user-123",
        "user_created",
        serde_json::json!({ "email": "ada@example.com" }),
    )
    .with_metadata(metadata);
    created.set_topic(topics.domain("user", "user_created").expect("valid"));

    let uow = SqliteUnitOfWork::new(backend.clone());
    uow.run(async |work| {
        sqlx::query("INSERT INTO users VALUES ('user-123', 'ada@example.com')")
            .execute(&mut **work.transaction())
            .await?;
        work.stage(&audit)?;
        work.stage(&created)?;
        Ok::<_, tidings::BoxError>(())
    })
    .await
    .expect("unit of work");

    let broker = MemoryBroker::new();
    let relay = Relay::new(backend, broker.clone(), RelayConfig::default());
    assert_eq!(relay.drain().await.expect("drain").total.published, 2);

    let audits = broker.records("marty.audit.events");
    let domain = broker.records("marty.user-service.user.user_created");
    assert_eq!((audits.len(), domain.len()), (1, 1));
    let audit_out = cloudevents::decode(&audits[0]).expect("a CloudEvent");
    assert_eq!(audit_out.message_type, "DATA_CREATED");
    assert_eq!(audit_out.key, "user-123");
    assert_eq!(audit_out.correlation_id.as_deref(), Some("req-7"));
    let body: AuditEvent = audit_out.decode_json().expect("an audit event");
    assert_eq!(body.action, "create_user");
    assert_eq!(body.metadata.user_id.as_deref(), Some("admin"));
    let domain_out = cloudevents::decode(&domain[0]).expect("a CloudEvent");
    assert_eq!(
        (
            domain_out.message_type.as_str(),
            domain_out.subject.as_deref()
        ),
        ("user_created", Some("user"))
    );
    let body: DomainEvent = domain_out.decode_json().expect("a domain event");
    assert_eq!(body.event_data["email"], "ada@example.com");
}
