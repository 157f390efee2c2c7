//! SQLite adapter for Tidings (sqlx): outbox, inbox and unit of work in one database file.
//!
//! This is the embedded default: no server, one file, and the same guarantees as the server
//! backends — the conformance suite of `tidings-testkit` runs against it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tidings_uow::UnitOfWork;
//! use tidings_sqlite::SqliteBackend;
//!
//! let dir = tempfile::tempdir()?;
//! let backend = SqliteBackend::connect(&format!("sqlite://{}/app.db", dir.path().display())).await?;
//! backend.migrate().await?; // creates tidings_outbox and tidings_inbox
//! let uow = UnitOfWork::new(backend.clone());
//! uow.run(async |work| {
//!     sqlx::query("CREATE TABLE orders (id TEXT)").execute(&mut **work.transaction()).await?;
//!     Ok::<_, sqlx::Error>(())
//! })
//! .await?;
//! # Ok(()) }
//! ```
//!
//! Writers are serialised by SQLite: every unit of work begins with `BEGIN IMMEDIATE`, so two
//! handlers never dead-lock upgrading a read to a write, and a row can never commit after a row
//! with a higher sequence. The database runs in WAL mode so readers do not wait for writers.
//! Wake-ups reach relays in the same process; a relay in another process polls.

mod backend;
mod error;
mod event_store;
mod inspect;
mod migrate;

pub use backend::SqliteBackend;
pub use event_store::{EVENT_STORE_SQL, SqliteEventStore};

/// The native transaction a handler writes its own data with.
pub type SqliteTransaction = sqlx::Transaction<'static, sqlx::Sqlite>;
