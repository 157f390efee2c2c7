//! The shared conformance suite against a real PostgreSQL server (`DATABASE_URL`), in a fresh
//! schema per case, once with published rows kept (`keeping::…`) and once with them deleted
//! (`deleting::…`). Each case is a named test:
//! `cargo test -p tidings-postgres --test conformance late_commit`.

use std::process::ExitCode;

use tidings_core::{Error, Result};
use tidings_postgres::{PostgresBackend, PostgresTransaction, PublishedRows, Schema};
use tidings_testkit::{Capabilities, MarkerStore, Suite, unique_ident};

fn driver(error: sqlx::Error) -> Error {
    Error::backend(error)
}

/// The backend under test; `DELETES` sets [`PublishedRows::Delete`].
#[derive(Clone)]
struct Postgres<const DELETES: bool>(PostgresBackend);

impl<const DELETES: bool> MarkerStore for Postgres<DELETES> {
    type Backend = PostgresBackend;

    fn backend(&self) -> &PostgresBackend {
        &self.0
    }

    fn capabilities() -> Capabilities {
        let capabilities = Capabilities::new().waking_across_processes();
        if DELETES {
            capabilities.deleting_published()
        } else {
            capabilities
        }
    }

    async fn write_marker(
        &self,
        transaction: &mut PostgresTransaction,
        marker: &str,
    ) -> Result<()> {
        let sql = format!(
            "INSERT INTO \"{}\".markers (marker) VALUES ($1)",
            self.0.schema().schema()
        );
        sqlx::query(&sql)
            .bind(marker)
            .execute(&mut **transaction)
            .await
            .map_err(driver)?;
        Ok(())
    }

    async fn count_markers(&self, marker: &str) -> Result<u64> {
        let sql = format!(
            "SELECT COUNT(*) FROM \"{}\".markers WHERE marker = $1",
            self.0.schema().schema()
        );
        let count: i64 = sqlx::query_scalar(&sql)
            .bind(marker)
            .fetch_one(self.0.pool())
            .await
            .map_err(driver)?;
        Ok(count as u64)
    }

    async fn reconnect(&self) -> Result<Self> {
        let options = self.0.pool().connect_options().as_ref().clone();
        let pool = sqlx::PgPool::connect_with(options).await.map_err(driver)?;
        Ok(Self(
            PostgresBackend::from_pool(pool)
                .with_schema(self.0.schema().clone())
                .with_published_rows(self.0.published_rows()),
        ))
    }

    async fn clean_up(self) {
        let drop = format!("DROP SCHEMA \"{}\" CASCADE", self.0.schema().schema());
        sqlx::query(&drop)
            .execute(self.0.pool())
            .await
            .expect("drop the case's schema");
    }
}

async fn fresh<const DELETES: bool>() -> Postgres<DELETES> {
    let url = std::env::var("DATABASE_URL").expect("checked by Suite::requires");
    let schema = unique_ident("t");
    let backend = PostgresBackend::connect(&url)
        .await
        .expect("connect to DATABASE_URL")
        .with_schema(Schema::in_schema(&schema).expect("valid schema name"))
        .with_published_rows(if DELETES {
            PublishedRows::Delete
        } else {
            PublishedRows::Keep
        });
    backend.migrate().await.expect("migrate");
    sqlx::query(&format!(
        "CREATE TABLE \"{schema}\".markers (marker TEXT NOT NULL)"
    ))
    .execute(backend.pool())
    .await
    .expect("create marker table");
    Postgres(backend)
}

fn main() -> ExitCode {
    Suite::new()
        .requires("DATABASE_URL")
        .prefixed("keeping")
        .conformance(fresh::<false>)
        .prefixed("deleting")
        .conformance(fresh::<true>)
        .run()
}
