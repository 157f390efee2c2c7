//! The inbox against a real server when two deliveries of one message overlap. MongoDB does
//! not make the second transaction wait, it fails it with a write conflict; the claim must
//! turn that into waiting, then into "duplicate" or "fresh" by what the first one did.

use std::time::Duration;

use chrono::Utc;
use tidings_core::{InboxClaim, InboxRepository, MessageId, Transactional};

use crate::{MongoBackend, Names};

async fn backend() -> Option<MongoBackend> {
    let url = tidings_testkit::server_from_env("MONGODB_URL")?;
    let database = tidings_testkit::unique("inbox").replace('-', "_");
    let backend = MongoBackend::connect(&url)
        .await
        .expect("connect to MONGODB_URL")
        .with_names(Names::in_database(&database).expect("valid name"));
    backend.migrate().await.expect("migrate");
    Some(backend)
}

/// Claims `id` in a transaction of its own while `first` still holds it, then ends `first`
/// with `commit` and returns what the second claim saw.
async fn overlapping_claim(backend: &MongoBackend, commit: bool) -> InboxClaim {
    let id = MessageId::new();
    let mut first = backend.begin().await.expect("begin");
    assert_eq!(
        backend
            .claim_message(&mut first, "consumer", &id, Utc::now())
            .await
            .expect("first claim"),
        InboxClaim::Fresh
    );
    let second = tokio::spawn({
        let backend = backend.clone();
        let id = id.clone();
        async move {
            let mut second = backend.begin().await.expect("begin");
            let claim = backend
                .claim_message(&mut second, "consumer", &id, Utc::now())
                .await
                .expect("second claim");
            backend.rollback(second).await.expect("rollback");
            claim
        }
    });
    // The second claim is running into the conflict meanwhile; it must still be waiting.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !second.is_finished(),
        "the second claim did not wait for the first"
    );
    if commit {
        backend.commit(first).await.expect("commit");
    } else {
        backend.rollback(first).await.expect("rollback");
    }
    second.await.expect("second claim task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlapping_delivery_waits_and_is_a_duplicate_once_the_first_commits() {
    let Some(backend) = backend().await else {
        return;
    };
    assert_eq!(
        overlapping_claim(&backend, true).await,
        InboxClaim::Duplicate
    );
    backend
        .client()
        .database(backend.names().database())
        .drop()
        .await
        .expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlapping_delivery_waits_and_is_fresh_once_the_first_rolls_back() {
    let Some(backend) = backend().await else {
        return;
    };
    assert_eq!(overlapping_claim(&backend, false).await, InboxClaim::Fresh);
    backend
        .client()
        .database(backend.names().database())
        .drop()
        .await
        .expect("drop");
}
