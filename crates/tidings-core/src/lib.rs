//! The contract of Tidings: what a domain event implements ([`Message`]), the form every adapter
//! stores and sends ([`Envelope`]), the CloudEvents 1.0 codec ([`cloudevents`]), the ports
//! ([`EventPublisher`], [`OutboxRepository`], [`InboxRepository`], [`DeadLetterRepository`] over a
//! [`Transactional`] backend), the retry policy, the correlation context and the one error type.
//!
//! Adapters implement the ports; the `tidings-uow`, `tidings-relay` and `tidings-persistent`
//! crates are written against them only. [`DynEventPublisher`] and [`DynOutboxRepository`] make
//! the publisher and the outbox usable as trait objects; with the `mock` feature, mockall mocks
//! of the ports ([`mock`]).
//! The behavioural suite every adapter runs is the `tidings-testkit` crate.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod claim_policy;
pub mod cloudevents;
pub mod context;
mod envelope;
mod error;
mod message;
pub mod metric;
mod notify;
mod ports;
mod retry;
pub mod sequence;
mod topic;
pub mod trace;
pub mod wire;

#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub mod mock;

pub use envelope::{Envelope, EnvelopeFactory, ExtensionValue, IdScheme, Limits, MessageId};
pub use error::{BoxError, Error, Result};
pub use message::{DynamicEvent, Message, Payload};
pub use notify::{Hints, Notifications, Notifier};
pub use ports::*;
pub use retry::RetryPolicy;
pub use topic::{TopicRouter, validate_topic};
