use std::{str::FromStr, sync::Arc};

use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use tidings_core::{Error, Limits, Result, Transactional};

use crate::{PostgresTransaction, Schema, error::classify, statements::Statements};

/// Outbox, inbox and dead letters in PostgreSQL. Cloning shares the pool.
#[derive(Clone, Debug)]
pub struct PostgresBackend {
    pub(crate) pool: PgPool,
    pub(crate) limits: Limits,
    schema: Arc<Schema>,
    pub(crate) statements: Arc<Statements>,
}

impl PostgresBackend {
    /// Connects to `url` (`postgres://user:password@host:port/database`) with a pool of up to
    /// 10 connections. Call [`migrate`](Self::migrate) once before use.
    pub async fn connect(url: &str) -> Result<Self> {
        // The URL may hold a password: it is not repeated in the error.
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| Error::Configuration(format!("invalid PostgreSQL URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(10)
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
        }
    }

    /// Uses the tables of `schema`.
    pub fn with_schema(mut self, schema: Schema) -> Self {
        self.statements = Arc::new(Statements::new(&schema));
        self.schema = Arc::new(schema);
        self
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
