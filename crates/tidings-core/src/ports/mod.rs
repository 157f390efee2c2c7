//! The ports adapters implement. Every method returns `impl Future + Send` so the ports can be
//! used from spawned tasks; each has a forwarding impl for `Arc<T>`.

mod dynamic;
mod event_store;
mod inbox;
mod inspect;
mod outbox;
mod publisher;
mod source;
mod transaction;

pub use dynamic::{BoxFuture, DynEventPublisher, DynOutboxRepository};
pub use event_store::{EventStore, StoredEvent, StoredEventQuery};
pub use inbox::{InboxClaim, InboxRepository, ensure_idempotence};
pub use inspect::{OutboxInspector, PublishedQuery, StatusGroup, TopicStats};
#[cfg(feature = "mock")]
pub use outbox::MockDeadLetterRepository;
pub use outbox::{
    ClaimRequest, DeadLetterQuery, DeadLetterRepository, OutboxRecord, OutboxRepository,
    OutboxRepositoryExt, OutboxStats, Outcome, RecordStatus, Settlement,
};
#[cfg(feature = "mock")]
pub use publisher::MockEventPublisher;
pub use publisher::{EventPublisher, PublishOutcome};
pub use source::{Delivery, RecordSource};
pub use transaction::Transactional;
