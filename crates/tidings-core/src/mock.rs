//! mockall mocks of the ports, for unit tests of code written against them.
//!
//! [`MockBackend`] implements every repository port over a `()` transaction;
//! [`MockEventPublisher`] and [`MockDeadLetterRepository`] mock the rest. Behind an
//! `Arc<dyn DynEventPublisher>` or `Arc<dyn DynOutboxRepository<()>>`, they stand in for the
//! real adapters in a service's own tests.

use std::future::Future;

use chrono::{DateTime, Utc};

pub use crate::ports::{MockDeadLetterRepository, MockEventPublisher};
use crate::{
    ClaimRequest, Envelope, InboxClaim, InboxRepository, MessageId, Notifications, OutboxRecord,
    OutboxRepository, OutboxStats, Result, Settlement, Transactional,
};

mockall::mock! {
    /// A backend whose every port method is an expectation.
    pub Backend {}

    impl Transactional for Backend {
        type Transaction = ();
        fn begin(&self) -> impl Future<Output = Result<()>> + Send;
        fn commit(&self, transaction: ()) -> impl Future<Output = Result<()>> + Send;
        fn rollback(&self, transaction: ()) -> impl Future<Output = Result<()>> + Send;
    }

    impl OutboxRepository for Backend {
        fn stage(&self, transaction: &mut (), envelopes: &[Envelope]) -> impl Future<Output = Result<()>> + Send;
        fn claim_batch(&self, request: &ClaimRequest) -> impl Future<Output = Result<Vec<OutboxRecord>>> + Send;
        fn settle(&self, owner: &str, now: DateTime<Utc>, settlements: &[Settlement]) -> impl Future<Output = Result<u64>> + Send;
        fn purge_published(&self, before: DateTime<Utc>, limit: u32) -> impl Future<Output = Result<u64>> + Send;
        fn stats(&self) -> impl Future<Output = Result<OutboxStats>> + Send;
        fn subscribe(&self) -> Option<Notifications>;
        fn after_commit(&self);
    }

    impl InboxRepository for Backend {
        fn claim_message(&self, transaction: &mut (), consumer: &str, id: &MessageId, now: DateTime<Utc>) -> impl Future<Output = Result<InboxClaim>> + Send;
        fn purge_inbox(&self, before: DateTime<Utc>, limit: u32) -> impl Future<Output = Result<u64>> + Send;
        fn contains(&self, consumer: &str, id: &MessageId) -> impl Future<Output = Result<bool>> + Send;
    }
}
