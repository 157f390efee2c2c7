//! Change-stream wake-ups against a real MongoDB-protocol server (`MONGODB_URL`).

use std::time::Duration;

use futures_util::StreamExt;
use mongodb::bson::{Bson, Document};
use tidings_core::{
    Envelope, OutboxRepository, Transactional,
    conformance::{server_from_env, unique},
};
use tidings_mongodb::{MongoBackend, Names};

async fn backend(url: &str) -> MongoBackend {
    let database = unique("wake").replace('-', "_");
    let backend = MongoBackend::connect(url)
        .await
        .expect("connect to MONGODB_URL")
        .with_names(Names::in_database(&database).expect("valid name"));
    backend.migrate().await.expect("migrate");
    backend
}

async fn drop_database(backend: &MongoBackend) {
    backend
        .client()
        .database(backend.names().database())
        .drop()
        .await
        .expect("drop test database");
}

fn event() -> Envelope {
    Envelope::new("orders", "k", "test", "application/json", b"{}".to_vec())
}

async fn stage(backend: &MongoBackend, envelope: Envelope, commit: bool) {
    let mut tx = backend.begin().await.expect("begin");
    backend.stage(&mut tx, &[envelope]).await.expect("stage");
    if commit {
        backend.commit(tx).await.expect("commit");
    } else {
        backend.rollback(tx).await.expect("rollback");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_stage_wakes_subscribers() {
    let Some(url) = server_from_env("MONGODB_URL") else {
        return;
    };
    let backend = backend(&url).await;
    let mut notifications = backend.subscribe().expect("subscriptions inside a runtime");
    // The change stream opens in the background: commit until a wake-up arrives.
    let woke = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            stage(&backend, event(), true).await;
            if tokio::time::timeout(Duration::from_millis(200), notifications.notified())
                .await
                .is_ok()
            {
                return;
            }
        }
    })
    .await;
    assert!(woke.is_ok(), "no wake-up after committed stages");
    drop_database(&backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_stage_wakes_nobody() {
    let Some(url) = server_from_env("MONGODB_URL") else {
        return;
    };
    let backend = backend(&url).await;
    let outbox = backend
        .client()
        .database(backend.names().database())
        .collection::<Document>(backend.names().outbox());
    let mut stream = outbox.watch().await.expect("change stream");
    stage(&backend, event(), false).await;
    // A committed marker after the rollback: had the rollback shown up, it would come first.
    let marker = event();
    let marker_id = marker.id.to_string();
    stage(&backend, marker, true).await;
    let first = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("a change event within 20 s")
        .expect("an open stream")
        .expect("a change event");
    let key = first.document_key.expect("inserts carry their key");
    assert_eq!(key.get("_id"), Some(&Bson::String(marker_id)));
    drop_database(&backend).await;
}
