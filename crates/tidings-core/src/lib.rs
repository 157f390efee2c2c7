//! The contract of Tidings: what a domain event implements ([`Message`]), the form every adapter
//! stores and sends ([`Envelope`]), the CloudEvents 1.0 codec ([`cloudevents`]), the ports
//! ([`EventPublisher`], [`OutboxRepository`], [`InboxRepository`], [`DeadLetterRepository`] over a
//! [`Transactional`] backend), the retry policy, the correlation context and the one error type.
//!
//! Adapters implement the ports; the `tidings-uow` and `tidings-relay` crates are written against
//! them only. With the `conformance` feature this crate also ships the behavioural suite that every
//! adapter runs (see [`conformance`]); with `mock`, mockall mocks of the ports.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod cloudevents;
pub mod context;
mod envelope;
mod error;
mod message;
mod notify;
pub mod persistent;
mod ports;
mod retry;
pub mod sequence;
mod topic;

#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub mod mock;

#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;

pub use envelope::{Envelope, EnvelopeFactory, ExtensionValue, Limits, MessageId};
pub use error::{BoxError, Error, Result};
pub use message::{Message, Payload};
pub use notify::{Notifications, Notifier};
pub use ports::*;
pub use retry::RetryPolicy;
pub use topic::{TopicRouter, validate_topic};
