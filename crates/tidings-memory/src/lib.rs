//! In-memory adapters for Tidings: an outbox, inbox and unit-of-work backend
//! ([`MemoryBackend`]) and a broker whose topics a test can read ([`MemoryBroker`]).
//!
//! They keep every rule of the ports — the same conformance suite runs against them as against
//! the database adapters — but nothing survives the process. Use them in your own tests and
//! demos; use a database adapter in production.

mod backend;
mod broker;
mod event_store;

pub use backend::{MemoryBackend, MemoryTransaction};
pub use broker::{DEFAULT_MAX_MESSAGE_BYTES, Fault, MemoryBroker};
pub use event_store::MemoryEventStore;
