//! The shared test suites of Tidings and the helpers every crate's tests use. Not published.
//!
//! - [`conformance`]: the invariants of the design, one case per `pub async fn`, run by every
//!   storage adapter (wake-ups included);
//! - [`persistent`]: the persistent publisher's rules, run with every event store;
//! - [`publisher`]: the contract every [`EventPublisher`](tidings_core::EventPublisher) keeps;
//! - [`Suite`]: registers those cases as named tests of a `harness = false` test binary;
//! - [`env`](mod@env): test servers from the environment, unique names, bounded waits;
//! - `kafka` (feature `kafka`): a topic of a test's own and a reader of it;
//! - `ledger` (feature `postgres`): a consumer's handler that records what it applied;
//! - [`scrape`]: the samples of a Prometheus scrape.
//!
//! A storage adapter implements [`MarkerStore`] on a type of its test crate that holds the
//! backend (a business row to count, a second handle, its [`Capabilities`]) in
//! `tests/conformance.rs`, and calls [`Suite::conformance`] with a function that makes a
//! fresh, empty one. See
//! `CONTRIBUTING.md` for the whole checklist of a new backend.

pub mod conformance;
pub mod env;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "postgres")]
pub mod ledger;
pub mod persistent;
pub mod publisher;
pub mod scrape;
mod store;
mod suite;

pub use env::{eventually, server_from_env, under_ci, unique, unique_ident, within};
pub use publisher::PublisherUnderTest;
pub use store::{Capabilities, Ending, MarkerStore, WorkOutcome, WorkPlan, run_plan};
pub use suite::Suite;
