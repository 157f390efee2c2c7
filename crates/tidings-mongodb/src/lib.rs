//! MongoDB adapter for Tidings (the official `mongodb` driver): outbox, inbox, dead letters
//! and unit of work over a `ClientSession` transaction.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use mongodb::bson::doc;
//! use tidings_uow::UnitOfWork;
//! use tidings_mongodb::{MongoBackend, Names};
//!
//! let backend = MongoBackend::connect("mongodb://db:27017/?replicaSet=rs0")
//!     .await?
//!     .with_names(Names::in_database("shop")?);
//! backend.migrate().await?; // collections and indexes
//! let orders = backend.client().database("shop").collection("orders");
//! let uow = UnitOfWork::new(backend.clone());
//! uow.run(async |work| {
//!     orders
//!         .insert_one(doc! { "_id": "order-1", "total": 10 })
//!         .session(work.transaction().session())
//!         .await
//! })
//! .await?;
//! # Ok(()) }
//! ```
//!
//! The persistent publisher's copies can live in MongoDB too ([`MongoEventStore`]):
//!
//! ```no_run
//! # async fn example(
//! #     kafka: impl tidings_core::EventPublisher,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! use tidings_persistent::{PersistentConfig, PersistentPublisher};
//! use tidings_mongodb::{MongoBackend, MongoEventStore, Names};
//!
//! let backend = MongoBackend::connect("mongodb://db:27017/?replicaSet=rs0").await?;
//! let store = MongoEventStore::new(backend.client().clone(), &Names::in_database("shop")?);
//! store.migrate().await?;
//! let publisher = PersistentPublisher::new(
//!     store,
//!     kafka, // a tidings_kafka::KafkaPublisher in a service
//!     PersistentConfig::new().compacted(["customers"]),
//! )?;
//! publisher.publish_pending().await?; // whatever an outage left unsent
//! # Ok(()) }
//! ```
//!
//! # Transactions need a replica set
//! Multi-document transactions exist only on replica set members and `mongos` routers. A
//! single development server must be started as a one-member replica set (`mongod --replSet
//! rs0`, then `rs.initiate()`). [`MongoBackend::connect`] checks this and fails at start-up on
//! a standalone server with a message that says so, rather than at the first commit.
//!
//! # How it works
//! - Business writes take the session: `.session(work.transaction().session())`. Outbox rows
//!   and the inbox claim are written in the same transaction.
//! - The inbox is a collection with `{consumer, message}` as `_id`: a duplicate is MongoDB's
//!   duplicate-key error (11000). A concurrent second delivery of the same message meets a
//!   write conflict instead; the claim then waits for the first transaction and reports a
//!   duplicate once it has committed.
//! - Claims win keys by compare-and-set on each key's first row (see the `claim` module
//!   notes), so several relays share one outbox without sending a key out of order, and
//!   leases expire when a relay dies.
//! - Relays wake on a change stream of outbox inserts, and still poll as a fallback.
//! - Published rows are removed by [`purge_published`](tidings_core::OutboxRepository::purge_published)
//!   in batches. A TTL index on `published_at` can do the same on the server
//!   (`{published_at: 1}`, `expireAfterSeconds`, partial on `status: "published"`); rows
//!   not yet published have no `published_at` and are never expired.
//! - Sequences order a key's rows in commit order, whatever the writers' clocks say: a row
//!   takes the staging time in microseconds (times 1000, plus a counter), but never at or
//!   below its key's last sequence, which `{outbox}_keys` keeps and the staging transaction
//!   updates. Two units of work staging events of one key at the same time meet a write
//!   conflict there: the second fails with [`Error::Conflict`](tidings_core::Error::Conflict),
//!   nothing of it written, and succeeds when run again (the Kafka consumer retries by itself).

mod backend;
mod claim;
mod document;
mod error;
mod event_store;
mod inspect;
mod names;
mod query;
mod sequence;

pub use backend::MongoBackend;
pub use event_store::MongoEventStore;
pub use names::Names;

/// The transaction a handler writes its own data in: a session with a transaction started.
#[derive(Debug)]
pub struct MongoTransaction {
    session: mongodb::ClientSession,
}

impl MongoTransaction {
    /// The session to pass to every write of the unit of work
    /// (`collection.insert_one(doc).session(work.transaction().session())`).
    pub fn session(&mut self) -> &mut mongodb::ClientSession {
        &mut self.session
    }
}

#[cfg(test)]
mod inbox_tests;
