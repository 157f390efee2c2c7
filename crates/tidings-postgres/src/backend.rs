use std::{str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    ConnectOptions, Connection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use tidings_core::{Error, Limits, Result, Transactional};

use crate::{PostgresTransaction, PublishedRows, Schema, error::classify, statements::Statements};

/// Outbox, inbox and dead letters in PostgreSQL. Cloning shares the pool.
#[derive(Clone, Debug)]
pub struct PostgresBackend {
    pub(crate) pool: PgPool,
    pub(crate) limits: Limits,
    schema: Arc<Schema>,
    pub(crate) statements: Arc<Statements>,
    pub(crate) published: PublishedRows,
}

impl PostgresBackend {
    /// Connects to `url` (`postgres://user:password@host:port/database`) with a pool of up to
    /// 10 connections, waiting at most 30 s for the first. Call [`migrate`](Self::migrate) once
    /// before use.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_within(url, Duration::from_secs(30)).await
    }

    /// [`connect`](Self::connect), waiting at most `timeout` for the server, and as long for
    /// each connection from the pool afterwards. A server that refuses, a bad password or a
    /// missing database fails at once with the server's reason, not after the timeout.
    pub async fn connect_within(url: &str, timeout: Duration) -> Result<Self> {
        // The URL may hold a password: it is not repeated in the error.
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| Error::Configuration(format!("invalid PostgreSQL URL: {e}")))?;
        // One connection on its own first: its error says why, where the pool's would only
        // say that it timed out.
        let first = tokio::time::timeout(timeout, options.connect())
            .await
            .map_err(|_| {
                Error::unavailable(format!("no answer from the server within {timeout:?}"))
            })?
            .map_err(classify)?;
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(timeout)
            .connect_with(options)
            .await
            .map_err(classify)?;
        Ok(Self::from_pool(pool))
    }

    /// Uses a pool the application already has, with the default [`Schema`].
    pub fn from_pool(pool: PgPool) -> Self {
        let schema = Schema::default();
        Self {
            pool,
            limits: Limits::default(),
            statements: Arc::new(Statements::new(&schema)),
            schema: Arc::new(schema),
            published: PublishedRows::default(),
        }
    }

    /// Uses the tables of `schema`.
    pub fn with_schema(mut self, schema: Schema) -> Self {
        self.statements = Arc::new(Statements::new(&schema));
        self.schema = Arc::new(schema);
        self
    }

    /// What settling does to a published row: keep it (the default) or delete it. See
    /// [`PublishedRows`]; with `Delete`, `list_published` (and so `tidings replay`) refuses.
    pub fn with_published_rows(mut self, published: PublishedRows) -> Self {
        self.published = published;
        self
    }

    /// What settling does to a published row.
    pub fn published_rows(&self) -> PublishedRows {
        self.published
    }

    /// Enforces `limits` when staging.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The tables in use.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The pool, for the application's own queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the schema and tables if they do not exist. Concurrent calls (several instances
    /// starting at once) are serialised with an advisory lock.
    pub async fn migrate(&self) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(self.schema.channel())
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        sqlx::raw_sql(&self.schema.migration_sql())
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)
    }
}

impl Transactional for PostgresBackend {
    type Transaction = PostgresTransaction;

    async fn begin(&self) -> Result<PostgresTransaction> {
        self.pool.begin().await.map_err(classify)
    }

    async fn commit(&self, transaction: PostgresTransaction) -> Result<()> {
        transaction.commit().await.map_err(classify)
    }

    async fn rollback(&self, transaction: PostgresTransaction) -> Result<()> {
        transaction.rollback().await.map_err(classify)
    }
}

#[cfg(test)]
mod connect_tests {
    use std::{net::TcpListener, time::Duration};

    use super::PostgresBackend;

    #[tokio::test]
    async fn a_server_that_refuses_fails_at_once_with_the_reason() {
        // A port nobody listens on: the listener is gone when the test connects.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let url = format!("postgres://app:secret@127.0.0.1:{port}/shop");
        let started = std::time::Instant::now();
        let error = PostgresBackend::connect_within(&url, Duration::from_secs(20))
            .await
            .expect_err("nothing listens there");
        assert!(started.elapsed() < Duration::from_secs(5), "{error}");
        assert!(error.is_transient(), "{error}");
        let text = error.to_string();
        assert!(text.contains("refused"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }
}
