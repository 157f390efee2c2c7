//! DynamoDB adapter for Tidings (`aws-sdk-dynamodb`): outbox, inbox, dead letters and a unit
//! of work that commits with ONE `TransactWriteItems` call.
//!
//! ```no_run
//! # use tidings_core::Message;
//! # #[derive(serde::Serialize)] struct OrderPlaced { order_id: String }
//! # impl Message for OrderPlaced {
//! #     fn message_type(&self) -> &str { "order.placed" }
//! #     fn aggregate_id(&self) -> String { self.order_id.clone() }
//! #     fn topic(&self) -> Option<&str> { Some("orders") }
//! # }
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::collections::HashMap;
//!
//! use aws_sdk_dynamodb::types::AttributeValue;
//! use tidings_uow::UnitOfWork;
//! use tidings_dynamodb::DynamoBackend;
//!
//! // Region, credentials and endpoint come from the standard AWS environment.
//! let backend = DynamoBackend::from_env().await;
//! backend.create_tables().await?; // outbox and inbox, with their indexes and TTL
//! let uow = UnitOfWork::new(backend);
//! uow.run(async |work| {
//!     let order = HashMap::from([
//!         ("order_id".to_owned(), AttributeValue::S("order-1".to_owned())),
//!         ("total".to_owned(), AttributeValue::N("10".to_owned())),
//!     ]);
//!     // The handler's writes, the outbox row and its key item: one TransactWriteItems.
//!     work.transaction().put("orders", order)?;
//!     work.stage(&OrderPlaced { order_id: "order-1".to_owned() })?;
//!     Ok::<_, tidings_core::Error>(())
//! })
//! .await?;
//! # Ok(()) }
//! ```
//!
//! # How it works
//! - **Unit of work.** [`DynamoTransaction`] collects the handler's writes
//!   (`TransactWriteItem`s: puts, updates, deletes, condition checks). The commit sends them
//!   with the inbox claim (a put on condition `attribute_not_exists`), one outbox row per
//!   event and one item per partition key, in one `TransactWriteItems` call with a
//!   `ClientRequestToken`: a commit resent after a timeout is applied at most once. The limits
//!   of a transaction (100 items, 4 MB, 400 KB per item) are checked before any call, with an
//!   error that says what counts ([`DynamoError::TooManyItems`]…), and nothing is written.
//! - **Cancellations** are read item by item: a failed claim is a duplicate (the unit of work
//!   returns `Handled::Duplicate`); a conflict with a concurrent transaction is retried with
//!   backoff; anything else is [`DynamoError::Cancelled`], naming each refused item and
//!   DynamoDB's reason (`handler write #0 (Put on orders): ConditionalCheckFailed`).
//! - **Order per key.** Rows of a key share a partition (`pk`), sorted by sequence (`sk`).
//!   Sequences are made from the commit time; the key item's condition refuses a sequence
//!   that is not above the key's last one, and the commit is retried above it, so a key's
//!   sequences follow commit order even when hosts' clocks disagree.
//! - **Claims** find keys with work in the sparse, sharded `active` index, read each key's
//!   unfinished rows from the `open` local index with a strongly consistent query, and lease
//!   the key's run with a conditional write (see the notes of the `claim` module). Of two
//!   relays racing for a key, one gets the run and the other nothing; a lease that runs out
//!   lets another relay take over.
//! - **Dead letters** sit in the sparse `dead` index, queryable in sequence order.
//! - **Retention.** Published rows and inbox claims get a TTL attribute, `expires_at`
//!   ([`DynamoBackend::with_published_retention`], [`DynamoBackend::with_inbox_retention`]);
//!   DynamoDB deletes expired items within days, at no write cost. The explicit purges of the
//!   ports scan the table, so set the relay's own retention to `None` and let the TTL work.
//! - **Wake-ups** come from commits made in this process; rows committed by other processes
//!   are found by the relay's polling.
//!
//! Table definitions for CloudFormation and Terraform are in the repository's
//! `docs/dynamodb.md`; [`DynamoBackend::create_tables`] makes the same tables.

mod backend;
mod change;
mod claim;
mod commit;
mod dead_letters;
mod error;
mod event_store;
mod inspect;
mod item;
mod json;
mod schema;
mod settle;
mod tables;
mod transaction;

pub use backend::{DynamoBackend, MAX_PAYLOAD_BYTES};
pub use error::{
    CancelledItem, DynamoError, MAX_ITEM_BYTES, MAX_TRANSACTION_BYTES, MAX_TRANSACTION_ITEMS,
};
pub use event_store::DynamoEventStore;
pub use tables::Tables;
pub use transaction::DynamoTransaction;

#[cfg(test)]
mod commit_mock_tests;
