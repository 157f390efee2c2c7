use std::{future::Future, sync::Arc};

use chrono::{DateTime, Utc};

use crate::{MessageId, Result, Transactional};

/// The result of claiming an incoming message id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboxClaim {
    /// First time this consumer sees the id: go on and apply the message.
    Fresh,
    /// The id was already applied (or is being applied by a transaction that has since
    /// committed): skip it.
    Duplicate,
}

/// The idempotent-consumer store: remembers which message ids each consumer has applied.
///
/// The claim is written in the same transaction as the handler's effects, so an effect is
/// committed exactly when its claim is. Two concurrent claims of one id must resolve to one
/// `Fresh` (the other waits for it and then sees `Duplicate`, or fails and is retried).
pub trait InboxRepository: Transactional {
    /// Records that `consumer` applies message `id` in `transaction`.
    fn claim_message(
        &self,
        transaction: &mut Self::Transaction,
        consumer: &str,
        id: &MessageId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<InboxClaim>> + Send;

    /// Deletes at most `limit` claims recorded before `before`; returns how many went.
    /// A redelivery older than the retention is then applied again, so keep the retention longer
    /// than the broker's.
    fn purge_inbox(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Whether `consumer` has a committed claim of message `id`, for a service that checks
    /// before doing work. It is a read, not a claim: the claim in the unit of work stays what
    /// makes the effect happen once (a delivery racing this check is caught there).
    fn contains(&self, consumer: &str, id: &MessageId)
    -> impl Future<Output = Result<bool>> + Send;
}

/// Fails with [`Error::AlreadyApplied`](crate::Error::AlreadyApplied) when `consumer` has
/// applied message `id`: for services that prefer `?` to matching a duplicate (the
/// `ensure_idempotence` of the DynamoDB library services migrate from).
pub async fn ensure_idempotence<I: InboxRepository + ?Sized>(
    inbox: &I,
    consumer: &str,
    id: &MessageId,
) -> Result<()> {
    if inbox.contains(consumer, id).await? {
        return Err(crate::Error::AlreadyApplied {
            consumer: consumer.to_owned(),
            id: id.clone(),
        });
    }
    Ok(())
}

impl<T: InboxRepository + ?Sized> InboxRepository for Arc<T> {
    fn claim_message(
        &self,
        transaction: &mut Self::Transaction,
        consumer: &str,
        id: &MessageId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<InboxClaim>> + Send {
        (**self).claim_message(transaction, consumer, id, now)
    }

    fn purge_inbox(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> impl Future<Output = Result<u64>> + Send {
        (**self).purge_inbox(before, limit)
    }

    fn contains(
        &self,
        consumer: &str,
        id: &MessageId,
    ) -> impl Future<Output = Result<bool>> + Send {
        (**self).contains(consumer, id)
    }
}
