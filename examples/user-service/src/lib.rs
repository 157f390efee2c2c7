//! A user service as a service migrating to Tidings writes one: its methods carry the
//! publishing attributes, so each write and the events describing it commit in one SQLite
//! transaction; the relay then delivers them. [`run`] plays a scenario — users created, one
//! created twice, one updated, a missing one updated, logins that succeed and fail — and
//! reports what reached the broker.

mod scenario;
mod service;

pub use scenario::{Delivered, Report, run};
pub use service::{User, UserError, UserService};
