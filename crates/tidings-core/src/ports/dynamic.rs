//! Object-safe companions of the publisher and outbox ports, for a service that holds an
//! `Arc<dyn …>` and swaps in a mock (or another backend) in its own tests. Every implementation
//! of a port implements its companion; the port is implemented for the trait object, so an
//! `Arc<dyn DynEventPublisher>` goes wherever an [`EventPublisher`] is wanted (the relay, the
//! persistent publisher). Each call costs one boxed future.

use std::{future::Future, pin::Pin};

use chrono::{DateTime, Utc};

use crate::{
    ClaimRequest, Envelope, EventPublisher, Notifications, OutboxRecord, OutboxRepository,
    OutboxStats, PublishOutcome, Result, Settlement, Transactional,
};

/// A boxed future that can be sent to another thread.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`EventPublisher`] as a trait object: `Arc<dyn DynEventPublisher>`.
pub trait DynEventPublisher: Send + Sync {
    /// [`EventPublisher::publish_batch`], boxed.
    fn publish_batch_boxed<'a>(
        &'a self,
        envelopes: &'a [Envelope],
    ) -> BoxFuture<'a, PublishOutcome>;

    /// [`EventPublisher::publish`], boxed.
    fn publish_boxed<'a>(&'a self, envelope: &'a Envelope) -> BoxFuture<'a, Result<()>>;
}

impl<T: EventPublisher> DynEventPublisher for T {
    fn publish_batch_boxed<'a>(
        &'a self,
        envelopes: &'a [Envelope],
    ) -> BoxFuture<'a, PublishOutcome> {
        Box::pin(self.publish_batch(envelopes))
    }

    fn publish_boxed<'a>(&'a self, envelope: &'a Envelope) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.publish(envelope))
    }
}

#[deny(clippy::missing_trait_methods)]
impl EventPublisher for dyn DynEventPublisher {
    async fn publish_batch(&self, envelopes: &[Envelope]) -> PublishOutcome {
        self.publish_batch_boxed(envelopes).await
    }

    async fn publish(&self, envelope: &Envelope) -> Result<()> {
        self.publish_boxed(envelope).await
    }
}

/// [`OutboxRepository`] (with its [`Transactional`] side) as a trait object over transactions
/// of type `Tx`: `Arc<dyn DynOutboxRepository<PostgresTransaction>>`.
pub trait DynOutboxRepository<Tx>: Send + Sync {
    /// [`Transactional::begin`], boxed.
    fn begin_boxed(&self) -> BoxFuture<'_, Result<Tx>>;
    /// [`Transactional::commit`], boxed.
    fn commit_boxed(&self, transaction: Tx) -> BoxFuture<'_, Result<()>>;
    /// [`Transactional::rollback`], boxed.
    fn rollback_boxed(&self, transaction: Tx) -> BoxFuture<'_, Result<()>>;
    /// [`OutboxRepository::stage`], boxed.
    fn stage_boxed<'a>(
        &'a self,
        transaction: &'a mut Tx,
        envelopes: &'a [Envelope],
    ) -> BoxFuture<'a, Result<()>>;
    /// [`OutboxRepository::claim_batch`], boxed.
    fn claim_batch_boxed<'a>(
        &'a self,
        request: &'a ClaimRequest,
    ) -> BoxFuture<'a, Result<Vec<OutboxRecord>>>;
    /// [`OutboxRepository::settle`], boxed.
    fn settle_boxed<'a>(
        &'a self,
        owner: &'a str,
        now: DateTime<Utc>,
        settlements: &'a [Settlement],
    ) -> BoxFuture<'a, Result<u64>>;
    /// [`OutboxRepository::purge_published`], boxed.
    fn purge_published_boxed(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> BoxFuture<'_, Result<u64>>;
    /// [`OutboxRepository::stats`], boxed.
    fn stats_boxed(&self) -> BoxFuture<'_, Result<OutboxStats>>;
    /// [`OutboxRepository::subscribe`].
    fn subscribe_dyn(&self) -> Option<Notifications>;
    /// [`OutboxRepository::after_commit`].
    fn after_commit_dyn(&self);
}

impl<T: OutboxRepository> DynOutboxRepository<T::Transaction> for T {
    fn begin_boxed(&self) -> BoxFuture<'_, Result<T::Transaction>> {
        Box::pin(self.begin())
    }

    fn commit_boxed(&self, transaction: T::Transaction) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.commit(transaction))
    }

    fn rollback_boxed(&self, transaction: T::Transaction) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.rollback(transaction))
    }

    fn stage_boxed<'a>(
        &'a self,
        transaction: &'a mut T::Transaction,
        envelopes: &'a [Envelope],
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.stage(transaction, envelopes))
    }

    fn claim_batch_boxed<'a>(
        &'a self,
        request: &'a ClaimRequest,
    ) -> BoxFuture<'a, Result<Vec<OutboxRecord>>> {
        Box::pin(self.claim_batch(request))
    }

    fn settle_boxed<'a>(
        &'a self,
        owner: &'a str,
        now: DateTime<Utc>,
        settlements: &'a [Settlement],
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(self.settle(owner, now, settlements))
    }

    fn purge_published_boxed(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> BoxFuture<'_, Result<u64>> {
        Box::pin(self.purge_published(before, limit))
    }

    fn stats_boxed(&self) -> BoxFuture<'_, Result<OutboxStats>> {
        Box::pin(self.stats())
    }

    fn subscribe_dyn(&self) -> Option<Notifications> {
        self.subscribe()
    }

    fn after_commit_dyn(&self) {
        self.after_commit();
    }
}

impl<Tx: Send + 'static> Transactional for dyn DynOutboxRepository<Tx> {
    type Transaction = Tx;

    fn begin(&self) -> impl Future<Output = Result<Tx>> + Send {
        self.begin_boxed()
    }

    fn commit(&self, transaction: Tx) -> impl Future<Output = Result<()>> + Send {
        self.commit_boxed(transaction)
    }

    fn rollback(&self, transaction: Tx) -> impl Future<Output = Result<()>> + Send {
        self.rollback_boxed(transaction)
    }
}

#[deny(clippy::missing_trait_methods)]
impl<Tx: Send + 'static> OutboxRepository for dyn DynOutboxRepository<Tx> {
    async fn stage(&self, transaction: &mut Tx, envelopes: &[Envelope]) -> Result<()> {
        self.stage_boxed(transaction, envelopes).await
    }

    async fn claim_batch(&self, request: &ClaimRequest) -> Result<Vec<OutboxRecord>> {
        self.claim_batch_boxed(request).await
    }

    async fn settle(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        settlements: &[Settlement],
    ) -> Result<u64> {
        self.settle_boxed(owner, now, settlements).await
    }

    fn purge_published(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> impl Future<Output = Result<u64>> + Send {
        self.purge_published_boxed(before, limit)
    }

    fn stats(&self) -> impl Future<Output = Result<OutboxStats>> + Send {
        self.stats_boxed()
    }

    fn subscribe(&self) -> Option<Notifications> {
        self.subscribe_dyn()
    }

    fn after_commit(&self) {
        self.after_commit_dyn();
    }
}
