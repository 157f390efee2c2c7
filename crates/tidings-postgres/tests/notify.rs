//! Staging wakes relays through LISTEN/NOTIFY inside the staging transaction: a commit wakes
//! them, a rollback does not. Against the real server (`DATABASE_URL`).

use std::time::Duration;

use sqlx::postgres::PgListener;
use tidings_core::{
    Envelope, OutboxRepository, Transactional,
    conformance::{server_from_env, unique},
};
use tidings_postgres::{PostgresBackend, Schema};

async fn backend(url: &str) -> PostgresBackend {
    let schema = unique("n").replace('-', "_");
    let backend = PostgresBackend::connect(url)
        .await
        .expect("connect")
        .with_schema(Schema::in_schema(&schema).expect("schema"));
    backend.migrate().await.expect("migrate");
    backend
}

fn event() -> Envelope {
    Envelope::new("orders", "k", "test", "application/json", b"{}".to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_stage_wakes_subscribers() {
    let Some(url) = server_from_env("DATABASE_URL") else {
        return;
    };
    let backend = backend(&url).await;
    let mut notifications = backend.subscribe().expect("subscriptions inside a runtime");
    // The subscription connects in the background: commit until a wake-up arrives.
    let woke = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let mut tx = backend.begin().await.expect("begin");
            backend.stage(&mut tx, &[event()]).await.expect("stage");
            backend.commit(tx).await.expect("commit");
            if tokio::time::timeout(Duration::from_millis(200), notifications.notified())
                .await
                .is_ok()
            {
                return;
            }
        }
    })
    .await;
    assert!(woke.is_ok(), "no notification after committed stages");
    drop_schema(&backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_stage_wakes_nobody() {
    let Some(url) = server_from_env("DATABASE_URL") else {
        return;
    };
    let backend = backend(&url).await;
    let channel = backend.schema().channel();
    let mut listener = PgListener::connect(&url).await.expect("listen connection");
    listener.listen(&channel).await.expect("listen");

    let mut tx = backend.begin().await.expect("begin");
    backend.stage(&mut tx, &[event()]).await.expect("stage");
    backend.rollback(tx).await.expect("rollback");
    // A marker sent after the rollback: if the rollback had notified, that notification would
    // arrive first.
    sqlx::query("SELECT pg_notify($1, 'marker')")
        .bind(&channel)
        .execute(backend.pool())
        .await
        .expect("notify");
    let first = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("the marker did not arrive")
        .expect("receive");
    assert_eq!(
        first.payload(),
        "marker",
        "a rolled-back stage sent a notification"
    );

    let mut tx = backend.begin().await.expect("begin");
    backend.stage(&mut tx, &[event()]).await.expect("stage");
    backend.commit(tx).await.expect("commit");
    let next = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("a committed stage did not notify")
        .expect("receive");
    assert_eq!(
        next.payload(),
        "",
        "the staging notification carries no payload"
    );
    drop_schema(&backend).await;
}

async fn drop_schema(backend: &PostgresBackend) {
    sqlx::query(&format!(
        "DROP SCHEMA \"{}\" CASCADE",
        backend.schema().schema()
    ))
    .execute(backend.pool())
    .await
    .expect("drop schema");
}
