//! The shared conformance suite and the persistent publisher's suite against SQLite, a fresh
//! database file per case (in a directory removed after the case). Each case is a named test:
//! `cargo test -p tidings-sqlite --test conformance late_commit`.

use std::process::ExitCode;

use tidings_core::{Error, Result};
use tidings_memory::MemoryBroker;
use tidings_sqlite::{SqliteBackend, SqliteEventStore, SqliteTransaction};
use tidings_testkit::{Capabilities, MarkerStore, Suite};

fn driver(error: sqlx::Error) -> Error {
    Error::backend(error)
}

#[derive(Clone)]
struct Sqlite(SqliteBackend);

impl MarkerStore for Sqlite {
    type Backend = SqliteBackend;

    fn backend(&self) -> &SqliteBackend {
        &self.0
    }

    fn capabilities() -> Capabilities {
        Capabilities::new().serialised_writers()
    }

    async fn write_marker(&self, transaction: &mut SqliteTransaction, marker: &str) -> Result<()> {
        sqlx::query("INSERT INTO conformance_markers (marker) VALUES (?)")
            .bind(marker)
            .execute(&mut **transaction)
            .await
            .map_err(driver)?;
        Ok(())
    }

    async fn count_markers(&self, marker: &str) -> Result<u64> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM conformance_markers WHERE marker = ?")
                .bind(marker)
                .fetch_one(self.0.pool())
                .await
                .map_err(driver)?;
        Ok(count as u64)
    }

    async fn reconnect(&self) -> Result<Self> {
        let options = (*self.0.pool().connect_options()).clone();
        let pool = sqlx::SqlitePool::connect_with(options)
            .await
            .map_err(driver)?;
        Ok(Self(SqliteBackend::from_pool(pool)))
    }

    async fn clean_up(self) {
        let file = self.0.pool().connect_options().get_filename().to_owned();
        self.0.pool().close().await;
        if let Some(dir) = file.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

async fn fresh() -> Sqlite {
    // Kept past this function: the case's connections open the file again. `clean_up` removes it.
    let dir = tempfile::tempdir().expect("temporary directory").keep();
    let url = format!("sqlite://{}/conformance.db", dir.display());
    let backend = SqliteBackend::connect(&url).await.expect("open database");
    backend.migrate().await.expect("migrate");
    sqlx::query("CREATE TABLE IF NOT EXISTS conformance_markers (marker TEXT NOT NULL)")
        .execute(backend.pool())
        .await
        .expect("create marker table");
    Sqlite(backend)
}

/// A persistent store in a fresh database; the broker is the in-memory one, the store being
/// what the suite checks here.
async fn fresh_store() -> (SqliteEventStore, MemoryBroker) {
    let Sqlite(backend) = fresh().await;
    let store = SqliteEventStore::new(&backend);
    store.migrate().await.expect("migrate the event store");
    (store, MemoryBroker::new())
}

async fn remove_store(store: SqliteEventStore, _: MemoryBroker) {
    Sqlite(SqliteBackend::from_pool(store.pool().clone()))
        .clean_up()
        .await;
}

fn main() -> ExitCode {
    Suite::new()
        .conformance(fresh)
        .persistent(fresh_store, remove_store)
        .run()
}
