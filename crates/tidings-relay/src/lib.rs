//! The relay: moves committed outbox rows to the broker, at least once and in order per key.
//!
//! A [`Relay`] claims a batch of rows with a lease, hands them to the [`EventPublisher`](tidings_core::EventPublisher) in
//! sequence order, and settles each: published, retried later with exponential backoff and
//! jitter, or dead-lettered after [`RetryPolicy::max_attempts`] (at once for input the broker can
//! never take). When a row fails, the later rows of its key in the batch are released, so a key
//! never overtakes itself. Several relays can run on one outbox: the repository hands each key to
//! one lease holder at a time, and a relay that dies lets its lease run out.
//!
//! The relay wakes on the backend's commit notifications where it has them and otherwise polls;
//! it purges published rows after the retention; on shutdown it finishes its in-flight batch.

mod config;
mod engine;
mod metrics;

pub use config::RelayConfig;
pub use engine::{BatchReport, DrainReport, Relay};
pub use tidings_core::RetryPolicy;
