//! The shared conformance suite, run against a fresh SQLite database file per test.

use tempfile::TempDir;
use tidings_core::{
    Result,
    conformance::{self, Capabilities, MarkerStore},
};
use tidings_uow::ConformanceHarness;

use crate::{SqliteBackend, SqliteTransaction, error::classify};

impl MarkerStore for SqliteBackend {
    async fn write_marker(&self, transaction: &mut SqliteTransaction, marker: &str) -> Result<()> {
        sqlx::query("INSERT INTO conformance_markers (marker) VALUES (?)")
            .bind(marker)
            .execute(&mut **transaction)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn count_markers(&self, marker: &str) -> Result<u64> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM conformance_markers WHERE marker = ?")
                .bind(marker)
                .fetch_one(self.pool())
                .await
                .map_err(classify)?;
        Ok(count as u64)
    }
}

/// A harness over a new database; keep the directory alive for the test's duration.
async fn harness() -> (ConformanceHarness<SqliteBackend>, TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let harness = open(&dir).await;
    (harness, dir)
}

/// Another harness (its own pool, as another process would have) on the database in `dir`.
async fn open(dir: &TempDir) -> ConformanceHarness<SqliteBackend> {
    let url = format!("sqlite://{}/conformance.db", dir.path().display());
    let backend = SqliteBackend::connect(&url).await.expect("open database");
    backend.migrate().await.expect("migrate");
    sqlx::query("CREATE TABLE IF NOT EXISTS conformance_markers (marker TEXT NOT NULL)")
        .execute(backend.pool())
        .await
        .expect("create marker table");
    ConformanceHarness::new(backend, Capabilities::full().serialised_writers())
}

#[tokio::test]
async fn atomic_outbox_commit() {
    conformance::atomic_outbox_commit(&harness().await.0).await;
}

#[tokio::test]
async fn atomic_outbox_rollback_on_error() {
    conformance::atomic_outbox_rollback_on_error(&harness().await.0).await;
}

#[tokio::test]
async fn atomic_outbox_rollback_on_panic() {
    conformance::atomic_outbox_rollback_on_panic(&harness().await.0).await;
}

#[tokio::test]
async fn inbox_duplicate_sequential() {
    conformance::inbox_duplicate_sequential(&harness().await.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_duplicate_concurrent() {
    let (one, dir) = harness().await;
    let two = open(&dir).await;
    conformance::inbox_duplicate_concurrent(&one, &two).await;
}

#[tokio::test]
async fn late_commit_is_not_lost() {
    conformance::late_commit_is_not_lost(&harness().await.0).await;
}

#[tokio::test]
async fn leases_expire_and_failures_come_back() {
    conformance::leases_expire_and_failures_come_back(&harness().await.0).await;
}

#[tokio::test]
async fn order_per_key() {
    conformance::order_per_key(&harness().await.0).await;
}

#[tokio::test]
async fn live_leases_are_not_taken_over() {
    conformance::live_leases_are_not_taken_over(&harness().await.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_relays_keep_order_per_key() {
    conformance::concurrent_relays_keep_order_per_key(&harness().await.0).await;
}

#[tokio::test]
async fn poison_goes_to_dead_letters() {
    conformance::poison_goes_to_dead_letters(&harness().await.0).await;
}

#[tokio::test]
async fn retention_purges_in_batches() {
    conformance::retention_purges_in_batches(&harness().await.0).await;
}

#[tokio::test]
async fn bad_input_is_refused_and_loses_nothing() {
    conformance::bad_input_is_refused_and_loses_nothing(&harness().await.0).await;
}
