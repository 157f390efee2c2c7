//! Typed events on a real Kafka-protocol broker (Tansu, `KAFKA_BOOTSTRAP_SERVERS`), configured
//! as Marty's users configure them — from `KAFKA_BROKERS`, `EVENT_TOPIC_PREFIX` and the rest:
//! a domain event sent at once with the outbox off, and an audit event staged in a SQLite unit
//! of work and relayed.

use tidings::{
    cloudevents,
    events::{
        AuditEvent, AuditEventType, DomainEvent, EventConfig, EventError, PublishEvents,
        kafka_config, kafka_events,
    },
    kafka::{KafkaAdmin, KafkaPublisher},
    relay::{Relay, RelayConfig},
    sqlite::{SqliteBackend, SqliteUnitOfWork},
};
use tidings_testkit::{kafka::read_topic, server_from_env, unique};

#[tokio::test]
async fn typed_events_reach_kafka_at_once_and_through_the_outbox() {
    let Some(brokers) = server_from_env("KAFKA_BOOTSTRAP_SERVERS") else {
        return;
    };
    let prefix = unique("marty");
    let vars = [
        ("SERVICE_NAME", "user-service"),
        ("EVENT_TOPIC_PREFIX", prefix.as_str()),
        ("KAFKA_BROKERS", brokers.as_str()),
        ("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
        ("USE_OUTBOX_PATTERN", "false"),
    ];
    let config = EventConfig::from_vars(vars.map(|(k, v)| (k.to_owned(), v.to_owned())))
        .expect("a valid configuration");
    let kafka = kafka_config(&config).expect("a Kafka connection");
    assert_eq!(kafka.client_id, "user-service");
    let topics = config.topics().expect("valid names");
    let created = topics.domain("user", "user_created").expect("valid");
    let audit = topics.audit().to_owned();
    let admin = KafkaAdmin::new(&kafka).expect("admin");
    for topic in [&created, &audit] {
        admin.ensure_topic(topic, 1).await.expect("create topic");
    }

    let events = kafka_events(&config).expect("a publisher");
    let sent = DomainEvent::new(
        "user",
        "user-1",
        "user_created",
        serde_json::json!({"n": 1}),
    );
    let sent_id = events
        .publish_domain_event(None, sent)
        .await
        .expect("sent at once");

    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/users.db", dir.path().display());
    let backend = SqliteBackend::connect(&url).await.expect("open");
    backend.migrate().await.expect("migrate");
    let staged_id = SqliteUnitOfWork::new(backend.clone())
        .run(async |work| {
            let login = AuditEvent::new(AuditEventType::UserLogin, "login", "session")
                .with_resource_id("user-1");
            events.publish_audit_event(Some(&mut *work), login).await
        })
        .await
        .expect("staged");
    let publisher = KafkaPublisher::new(&kafka).expect("publisher");
    let drained = Relay::new(backend, publisher, RelayConfig::default())
        .drain()
        .await
        .expect("relayed");
    assert_eq!(drained.total.published, 1);

    let direct = cloudevents::decode(&read_topic(&kafka, &created, 1, 1).await[0]).expect("event");
    assert_eq!((&direct.id, direct.key.as_str()), (&sent_id, "user-1"));
    let body: serde_json::Value = direct.decode_json().expect("json");
    assert_eq!(body["metadata"]["service_name"], "user-service");
    let relayed = cloudevents::decode(&read_topic(&kafka, &audit, 1, 1).await[0]).expect("event");
    assert_eq!(relayed.id, staged_id);
    assert_eq!(relayed.message_type, "USER_LOGIN");
    admin
        .delete_topics(&[&created, &audit])
        .await
        .expect("delete topics");
}

#[test]
fn a_configuration_without_brokers_names_the_variable() {
    let config = EventConfig::new("user-service");
    let error = kafka_config(&config).expect_err("no brokers");
    assert!(
        matches!(
            error,
            EventError::MissingVariable {
                variable: "KAFKA_BROKERS",
                ..
            }
        ),
        "{error}"
    );
}
