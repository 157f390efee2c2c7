//! The shared conformance suite, run against a fresh SQLite database file per case.

use std::sync::{Arc, Mutex};

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

    async fn reconnect(&self) -> Result<Self> {
        let options = (*self.pool().connect_options()).clone();
        let pool = sqlx::SqlitePool::connect_with(options)
            .await
            .map_err(classify)?;
        Ok(Self::from_pool(pool))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite() {
    // Each case gets a database of its own; the directories live until the suite ends.
    let dirs: Arc<Mutex<Vec<TempDir>>> = Arc::default();
    conformance::run_suite(async || {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}/conformance.db", dir.path().display());
        dirs.lock().expect("lock").push(dir);
        let backend = SqliteBackend::connect(&url).await.expect("open database");
        backend.migrate().await.expect("migrate");
        sqlx::query("CREATE TABLE IF NOT EXISTS conformance_markers (marker TEXT NOT NULL)")
            .execute(backend.pool())
            .await
            .expect("create marker table");
        ConformanceHarness::new(backend, Capabilities::full().serialised_writers())
    })
    .await;
}
