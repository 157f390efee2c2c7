//! PostgreSQL adapter for Tidings (sqlx): outbox, inbox, dead letters and unit of work.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use tidings_uow::UnitOfWork;
//! use tidings_postgres::{PostgresBackend, Schema};
//!
//! let backend = PostgresBackend::connect("postgres://app@db/app")
//!     .await?
//!     .with_schema(Schema::in_schema("messaging")?);
//! backend.migrate().await?; // or apply `Schema::migration_sql()` with your own tool
//! let uow = UnitOfWork::new(backend.clone());
//! uow.run(async |work| {
//!     sqlx::query("UPDATE accounts SET balance = balance - 10 WHERE id = 1")
//!         .execute(&mut **work.transaction())
//!         .await
//! })
//! .await?;
//! # Ok(()) }
//! ```
//!
//! The persistent publisher's copies can live in PostgreSQL ([`PostgresEventStore`]):
//!
//! ```no_run
//! # async fn example(
//! #     pool: sqlx::PgPool,
//! #     kafka: impl tidings_core::EventPublisher,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! use tidings_persistent::{PersistentConfig, PersistentPublisher, WhenBrokerFails};
//! use tidings_postgres::{PostgresEventStore, Schema};
//!
//! let store = PostgresEventStore::new(pool, &Schema::in_schema("messaging")?);
//! store.migrate().await?; // or apply `store.migration_sql()` with your own tool
//! let publisher = PersistentPublisher::new(
//!     store,
//!     kafka, // a tidings_kafka::KafkaPublisher in a service
//!     PersistentConfig::new()
//!         .unstored(["audit-pings"])
//!         .when_broker_fails(WhenBrokerFails::KeepForLater),
//! )?;
//! publisher.republish().await?; // rebuild a topic from the copies
//! # Ok(()) }
//! ```
//!
//! - Claims lock the heads of keys with `FOR UPDATE SKIP LOCKED`, so any number of relays share
//!   one outbox without waiting on each other and without sending a key out of order; leases
//!   expire when a relay dies.
//! - Staging sends `NOTIFY` inside the staging transaction: a rolled-back transaction wakes no
//!   relay, a committed one wakes them at once; relays still poll as a fallback.
//! - The schema and table names are configurable ([`Schema`]) and validated.
//! - `sql/tidings.sql` holds the DDL for the default names, for users with their own
//!   migration tool.

mod backend;
mod columns;
mod dead_letters;
mod error;
mod event_store;
mod inbox;
mod inspect;
mod outbox;
mod published;
mod schema;
mod statements;

pub use backend::PostgresBackend;
pub use event_store::PostgresEventStore;
pub use published::PublishedRows;
pub use schema::Schema;

/// The native transaction a handler writes its own data with.
pub type PostgresTransaction = sqlx::Transaction<'static, sqlx::Postgres>;
