//! The shared conformance suite against a real PostgreSQL server (`DATABASE_URL`), in a fresh
//! schema per case.

use std::sync::{Arc, Mutex};

use tidings_core::{
    Result,
    conformance::{self, Capabilities, MarkerStore},
};
use tidings_uow::ConformanceHarness;

use crate::{PostgresBackend, PostgresTransaction, Schema, error::classify};

impl MarkerStore for PostgresBackend {
    async fn write_marker(
        &self,
        transaction: &mut PostgresTransaction,
        marker: &str,
    ) -> Result<()> {
        let sql = format!(
            "INSERT INTO \"{}\".markers (marker) VALUES ($1)",
            self.schema().schema()
        );
        sqlx::query(&sql)
            .bind(marker)
            .execute(&mut **transaction)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn count_markers(&self, marker: &str) -> Result<u64> {
        let sql = format!(
            "SELECT COUNT(*) FROM \"{}\".markers WHERE marker = $1",
            self.schema().schema()
        );
        let count: i64 = sqlx::query_scalar(&sql)
            .bind(marker)
            .fetch_one(self.pool())
            .await
            .map_err(classify)?;
        Ok(count as u64)
    }

    async fn reconnect(&self) -> Result<Self> {
        let options = self.pool().connect_options().as_ref().clone();
        let pool = sqlx::PgPool::connect_with(options)
            .await
            .map_err(classify)?;
        Ok(Self::from_pool(pool).with_schema(self.schema().clone()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite() {
    let Some(url) = conformance::server_from_env("DATABASE_URL") else {
        return;
    };
    let schemas: Arc<Mutex<Vec<String>>> = Arc::default();
    conformance::run_suite(async || {
        let schema = conformance::unique("t").replace('-', "_");
        schemas.lock().expect("lock").push(schema.clone());
        let backend = PostgresBackend::connect(&url)
            .await
            .expect("connect to DATABASE_URL")
            .with_schema(Schema::in_schema(&schema).expect("valid schema name"));
        backend.migrate().await.expect("migrate");
        sqlx::query(&format!(
            "CREATE TABLE \"{schema}\".markers (marker TEXT NOT NULL)"
        ))
        .execute(backend.pool())
        .await
        .expect("create marker table");
        ConformanceHarness::new(backend, Capabilities::full())
    })
    .await;
    let cleanup = PostgresBackend::connect(&url).await.expect("connect");
    let schemas = std::mem::take(&mut *schemas.lock().expect("lock"));
    for schema in &schemas {
        sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .execute(cleanup.pool())
            .await
            .expect("drop test schema");
    }
}
