//! The persistent publisher against real servers: its rules (the shared suite in
//! `tidings_core::conformance::persistent`) with PostgreSQL and MongoDB stores sending to Kafka
//! (Tansu), and a real broker outage between store and send.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use sqlx::PgPool;
use tidings::{
    EventStore, StoredEventQuery,
    kafka::{KafkaConfig, KafkaPublisher},
    mongodb::{MongoBackend, MongoEventStore, Names},
    persistent::{PersistentConfig, PersistentPublisher},
    postgres::{PostgresEventStore, Schema},
};
use tidings_core::conformance::{event, persistent::run_suite, server_from_env, unique};
use tidings_tests::{CreatingTopics, PrivateBroker};

fn kafka() -> Option<KafkaConfig> {
    server_from_env("KAFKA_BOOTSTRAP_SERVERS").map(KafkaConfig::new)
}

async fn postgres_store(pool: &PgPool, schemas: &Mutex<Vec<String>>) -> PostgresEventStore {
    let schema = unique("p").replace('-', "_");
    schemas.lock().expect("lock").push(schema.clone());
    let store = PostgresEventStore::new(
        pool.clone(),
        &Schema::in_schema(&schema).expect("valid schema"),
    );
    store.migrate().await.expect("migrate");
    store
}

async fn drop_schemas(pool: &PgPool, schemas: &Mutex<Vec<String>>) {
    let taken = std::mem::take(&mut *schemas.lock().expect("lock"));
    for schema in taken {
        sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .execute(pool)
            .await
            .expect("drop schema");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_publisher_with_a_postgres_store() {
    let (Some(url), Some(kafka)) = (server_from_env("DATABASE_URL"), kafka()) else {
        return;
    };
    let pool = PgPool::connect(&url)
        .await
        .expect("connect to DATABASE_URL");
    let schemas: Arc<Mutex<Vec<String>>> = Arc::default();
    let publisher = CreatingTopics::new(&kafka);
    run_suite(|| postgres_store(&pool, &schemas), publisher.clone()).await;
    drop_schemas(&pool, &schemas).await;
    publisher.delete_topics().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_publisher_with_a_mongodb_store() {
    let (Some(url), Some(kafka)) = (server_from_env("MONGODB_URL"), kafka()) else {
        return;
    };
    let backend = MongoBackend::connect(&url)
        .await
        .expect("connect to MONGODB_URL");
    let databases: Arc<Mutex<Vec<String>>> = Arc::default();
    let publisher = CreatingTopics::new(&kafka);
    run_suite(
        || async {
            let database = unique("p").replace('-', "_");
            databases.lock().expect("lock").push(database.clone());
            let names = Names::in_database(&database).expect("valid name");
            let store = MongoEventStore::new(backend.client().clone(), &names);
            store.migrate().await.expect("migrate");
            store
        },
        publisher.clone(),
    )
    .await;
    let taken = std::mem::take(&mut *databases.lock().expect("lock"));
    for database in taken {
        backend
            .client()
            .database(&database)
            .drop()
            .await
            .expect("drop database");
    }
    publisher.delete_topics().await;
}

/// A real outage: the broker is frozen after the copy is stored and before the send completes.
/// The publish fails, the copy stays unpublished, and `publish_pending` delivers it once the
/// broker is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_between_store_and_send_leaves_the_copy_for_publish_pending() {
    let Some(url) = server_from_env("DATABASE_URL") else {
        return;
    };
    let Some(broker) = PrivateBroker::start().await else {
        return;
    };
    let kafka = KafkaConfig::new(&broker.bootstrap)
        .with_property("message.timeout.ms", "1500")
        .with_property("socket.timeout.ms", "1000");
    let topic = unique("outage");
    tidings::kafka::KafkaAdmin::new(&kafka)
        .expect("admin")
        .ensure_topic(&topic, 1)
        .await
        .expect("topic");
    let pool = PgPool::connect(&url)
        .await
        .expect("connect to DATABASE_URL");
    let schemas = Mutex::new(Vec::new());
    let store = postgres_store(&pool, &schemas).await;
    let publisher = PersistentPublisher::new(
        store.clone(),
        KafkaPublisher::new(&kafka).expect("publisher"),
        PersistentConfig::new(),
    )
    .expect("publisher");
    // Warm up the connection, so the outage hits a send rather than the first metadata call.
    publisher
        .publish(&event(&topic, "k", "before"))
        .await
        .expect("publish before the outage");

    broker.pause();
    let during = event(&topic, "k", "during");
    let failed = publisher.publish(&during).await;
    broker.resume();
    assert!(failed.is_err(), "a publish to a frozen broker succeeded");
    let pending = store
        .page(&StoredEventQuery::unpublished(10))
        .await
        .expect("page");
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].envelope.id, during.id);

    let report = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match publisher.publish_pending().await {
                Ok(report) if report.pending == 0 => return report,
                // The first send after the freeze may fail (the producer is then replaced).
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    })
    .await
    .expect("publish_pending delivered within 60 s");
    assert_eq!(report.sent, 1);
    assert!(
        store
            .page(&StoredEventQuery::unpublished(10))
            .await
            .expect("page")
            .is_empty()
    );
    drop_schemas(&pool, &schemas).await;
}
