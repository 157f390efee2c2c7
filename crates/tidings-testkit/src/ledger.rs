//! A consumer's handler for tests against PostgreSQL (feature `postgres`): it records every
//! event it applies in a table of its own, in the unit of work's transaction, numbered in the
//! order applied, and refuses events whose payload holds `poison`, so a test can watch retries
//! and dead letters.

use sqlx::{PgPool, Postgres, Transaction};
use tidings_core::{BoxError, Envelope};
use tidings_uow::{Work, consume::EventHandler};

/// The ledger table of one test.
#[derive(Clone, Debug)]
pub struct PostgresLedger {
    table: String,
}

impl PostgresLedger {
    /// Creates `"{schema}".ledger` (the schema must exist).
    pub async fn create(pool: &PgPool, schema: &str) -> Self {
        let table = format!("\"{schema}\".ledger");
        sqlx::query(&format!(
            "CREATE TABLE {table} (applied BIGINT GENERATED ALWAYS AS IDENTITY, \
             event_id TEXT PRIMARY KEY, key TEXT NOT NULL, payload BYTEA NOT NULL)"
        ))
        .execute(pool)
        .await
        .expect("create the ledger table");
        Self { table }
    }

    /// The applied events' keys and payloads, in the order they were applied.
    pub async fn applied(&self, pool: &PgPool) -> Vec<(String, Vec<u8>)> {
        sqlx::query_as(&format!(
            "SELECT key, payload FROM {} ORDER BY applied",
            self.table
        ))
        .fetch_all(pool)
        .await
        .expect("read the ledger")
    }
}

impl EventHandler<Transaction<'static, Postgres>> for PostgresLedger {
    async fn handle(
        &self,
        work: &mut Work<Transaction<'static, Postgres>>,
        event: &Envelope,
    ) -> Result<(), BoxError> {
        if event.payload.windows(6).any(|w| w == b"poison") {
            return Err("the ledger refuses poison".into());
        }
        sqlx::query(&format!(
            "INSERT INTO {} (event_id, key, payload) VALUES ($1, $2, $3)",
            self.table
        ))
        .bind(event.id.as_str())
        .bind(&event.key)
        .bind(&event.payload)
        .execute(&mut **work.transaction())
        .await?;
        Ok(())
    }
}
