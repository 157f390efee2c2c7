//! The persistent publisher through a real broker outage between store and send (PostgreSQL
//! store, a Tansu of the test's own). Its rules run as the shared suite in
//! `persistent_suite.rs`.

use std::{sync::Mutex, time::Duration};

use sqlx::PgPool;
use tidings::{
    EventStore, StoredEventQuery,
    kafka::{KafkaConfig, KafkaPublisher},
    persistent::{PersistentConfig, PersistentPublisher},
    postgres::{PostgresEventStore, Schema},
};
use tidings_testkit::{conformance::event, server_from_env, unique};
use tidings_tests::PrivateBroker;

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
