use std::{future::Future, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};

use crate::{Envelope, MessageId, Notifications, Result, Transactional, claim_policy::ClaimView};

/// Where an outbox row is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordStatus {
    /// Waiting to be sent (possibly after a failed attempt, see `next_attempt_at`).
    Pending,
    /// Claimed by a relay until its lease runs out.
    Leased,
    /// Acknowledged by the broker; kept until the retention purge.
    Published,
    /// Given up after too many failures; waits for an operator.
    Dead,
}

impl RecordStatus {
    /// The status as stored by the SQL adapters.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Leased => "leased",
            Self::Published => "published",
            Self::Dead => "dead",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s output.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => Self::Pending,
            "leased" => Self::Leased,
            "published" => Self::Published,
            "dead" => Self::Dead,
            _ => return None,
        })
    }
}

/// An outbox row as the relay and the operator see it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct OutboxRecord {
    /// The event.
    pub envelope: Envelope,
    /// Position in the outbox; orders the rows of one key.
    pub sequence: i64,
    /// Current status.
    pub status: RecordStatus,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// When the row was staged.
    pub created_at: DateTime<Utc>,
}

impl OutboxRecord {
    /// A record of `envelope` as stored by an adapter.
    pub fn new(
        envelope: Envelope,
        sequence: i64,
        status: RecordStatus,
        attempts: u32,
        last_error: Option<String>,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            envelope,
            sequence,
            status,
            attempts,
            last_error,
            created_at,
        }
    }
}

/// A relay's request for work.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimRequest {
    /// Identifies the relay instance; only it may settle the rows it leased.
    pub owner: String,
    /// Most rows to return.
    pub limit: usize,
    /// How long the rows stay leased; a relay that dies lets them go when this runs out.
    pub lease: Duration,
    /// The time the claim is made at (the clock is passed in so that tests need no sleeps).
    pub now: DateTime<Utc>,
    /// Most partition keys to take rows of (unlimited by default). A relay with several
    /// workers gives each a share of the keys: one worker holding every key would leave the
    /// others nothing to claim until its batch settles.
    pub max_keys: usize,
}

impl ClaimRequest {
    /// A request for up to `limit` rows leased for `lease` from now.
    pub fn new(owner: impl Into<String>, limit: usize, lease: Duration) -> Self {
        Self {
            owner: owner.into(),
            limit,
            lease,
            now: Utc::now(),
            max_keys: usize::MAX,
        }
    }

    /// Takes rows of at most `keys` partition keys.
    pub fn with_max_keys(mut self, keys: usize) -> Self {
        self.max_keys = keys;
        self
    }

    /// Most keys this claim may take rows of: `max_keys`, within `limit`, at least one.
    pub fn key_limit(&self) -> usize {
        self.max_keys.min(self.limit).max(1)
    }

    /// Makes the claim as of `now`.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = now;
        self
    }

    /// When the lease of rows claimed by this request ends.
    pub fn lease_until(&self) -> DateTime<Utc> {
        self.now + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::MAX)
    }

    /// Whether a row may be handed out now, its key's earlier rows aside
    /// ([`claim_policy::admits`](crate::claim_policy::admits) at this request's time).
    pub fn admits(
        &self,
        status: RecordStatus,
        next_attempt_at: DateTime<Utc>,
        lease_until: Option<DateTime<Utc>>,
    ) -> bool {
        crate::claim_policy::admits(self.now, status, next_attempt_at, lease_until)
    }

    /// The rows this request takes from unfinished rows of some keys in sequence order, each
    /// with its next attempt time and lease end
    /// ([`claim_policy::take_runs`](crate::claim_policy::take_runs)).
    pub fn take_runs(
        &self,
        rows: impl IntoIterator<Item = (OutboxRecord, DateTime<Utc>, Option<DateTime<Utc>>)>,
    ) -> Vec<OutboxRecord> {
        let views = rows
            .into_iter()
            .map(|(record, next_attempt_at, lease_until)| ClaimView {
                record,
                next_attempt_at,
                lease_until,
            });
        crate::claim_policy::take_runs(self, views)
            .into_iter()
            .map(|view| view.record)
            .collect()
    }
}

/// What became of a leased row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The broker acknowledged it.
    Published,
    /// Sending failed; try again at `at`. Counts as a failed attempt.
    Retry {
        /// The failure, kept for operators.
        error: String,
        /// Earliest time of the next attempt.
        at: DateTime<Utc>,
    },
    /// Sending failed for the last time; move the row to dead letters.
    DeadLetter {
        /// The last failure.
        error: String,
    },
    /// Not attempted (shutdown, or an earlier row of its key failed): make it claimable again
    /// without counting an attempt.
    Release,
}

/// The outcome of one leased row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    /// Partition key of the row's event: stores that partition the outbox by key (DynamoDB)
    /// need it to address the row.
    pub key: String,
    /// Position of the row, as claimed: adapters find the row by it, which is cheaper than by
    /// id in most stores.
    pub sequence: i64,
    /// Id of the row's event; an adapter settles nothing if it does not match the sequence.
    pub id: MessageId,
    /// What became of it.
    pub outcome: Outcome,
}

impl Settlement {
    /// Settles the row of key `key` at `sequence` holding event `id` with `outcome`.
    pub fn new(key: impl Into<String>, sequence: i64, id: MessageId, outcome: Outcome) -> Self {
        Self {
            key: key.into(),
            sequence,
            id,
            outcome,
        }
    }

    /// Settles a claimed `record` with `outcome`.
    pub fn of(record: &OutboxRecord, outcome: Outcome) -> Self {
        Self::new(
            record.envelope.key.clone(),
            record.sequence,
            record.envelope.id.clone(),
            outcome,
        )
    }
}

/// Row counts by status, for the queue-depth metric and for operators.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxStats {
    /// Rows waiting to be sent.
    pub pending: u64,
    /// Rows leased by a relay.
    pub leased: u64,
    /// Rows sent and not yet purged.
    pub published: u64,
    /// Dead letters.
    pub dead: u64,
}

impl OutboxStats {
    /// Counts from `(status, count)` pairs as a `GROUP BY status` returns them; unknown
    /// statuses are ignored.
    pub fn from_counts<'a>(counts: impl IntoIterator<Item = (&'a str, i64)>) -> Self {
        let mut stats = Self::default();
        for (status, count) in counts {
            let count = u64::try_from(count).unwrap_or(0);
            match RecordStatus::parse(status) {
                Some(RecordStatus::Pending) => stats.pending += count,
                Some(RecordStatus::Leased) => stats.leased += count,
                Some(RecordStatus::Published) => stats.published += count,
                Some(RecordStatus::Dead) => stats.dead += count,
                None => {}
            }
        }
        stats
    }

    /// Counts as read by an adapter.
    pub fn new(pending: u64, leased: u64, published: u64, dead: u64) -> Self {
        Self {
            pending,
            leased,
            published,
            dead,
        }
    }
}

/// The transactional outbox.
///
/// Rules every implementation keeps (the conformance suite checks each):
/// - [`stage`](Self::stage) writes inside the caller's transaction only, so rows exist exactly
///   when that transaction commits;
/// - [`claim_batch`](Self::claim_batch) finds rows by status, never by "the last sequence I saw",
///   so a row whose transaction commits late is still found;
/// - a row is claimable only when every earlier row of its key is published or dead, and it is
///   pending and due, or leased with an expired lease (the rule of
///   [`claim_policy`](crate::claim_policy)); the rows of one key are returned in sequence order,
///   so several relays never send one key out of order;
/// - [`settle`](Self::settle) applies an outcome only while the row is leased by the settling
///   owner (except `Published`, which is applied as long as the row is not yet published).
pub trait OutboxRepository: Transactional {
    /// Writes `envelopes` into the outbox within `transaction`, after validating each.
    fn stage(
        &self,
        transaction: &mut Self::Transaction,
        envelopes: &[Envelope],
    ) -> impl Future<Output = Result<()>> + Send;

    /// Leases up to `request.limit` claimable rows to `request.owner`, in sequence order.
    fn claim_batch(
        &self,
        request: &ClaimRequest,
    ) -> impl Future<Output = Result<Vec<OutboxRecord>>> + Send;

    /// Records what became of leased rows; returns how many settlements were applied (the rest
    /// had lost their lease to another relay).
    fn settle(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        settlements: &[Settlement],
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Deletes at most `limit` rows published before `before`; returns how many went.
    fn purge_published(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Row counts by status.
    fn stats(&self) -> impl Future<Output = Result<OutboxStats>> + Send;

    /// Hints that rows were committed, where the backend can send them; `None` means the relay
    /// has to poll.
    fn subscribe(&self) -> Option<Notifications> {
        None
    }

    /// Called by the unit of work after a commit that staged rows, for backends whose hints are
    /// raised in-process rather than by the server.
    fn after_commit(&self) {}
}

impl<T: OutboxRepository + ?Sized> OutboxRepository for Arc<T> {
    fn stage(
        &self,
        transaction: &mut Self::Transaction,
        envelopes: &[Envelope],
    ) -> impl Future<Output = Result<()>> + Send {
        (**self).stage(transaction, envelopes)
    }

    fn claim_batch(
        &self,
        request: &ClaimRequest,
    ) -> impl Future<Output = Result<Vec<OutboxRecord>>> + Send {
        (**self).claim_batch(request)
    }

    fn settle(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        settlements: &[Settlement],
    ) -> impl Future<Output = Result<u64>> + Send {
        (**self).settle(owner, now, settlements)
    }

    fn purge_published(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> impl Future<Output = Result<u64>> + Send {
        (**self).purge_published(before, limit)
    }

    fn stats(&self) -> impl Future<Output = Result<OutboxStats>> + Send {
        (**self).stats()
    }

    fn subscribe(&self) -> Option<Notifications> {
        (**self).subscribe()
    }

    fn after_commit(&self) {
        (**self).after_commit()
    }
}

/// Conveniences over [`OutboxRepository`], implemented for every repository.
pub trait OutboxRepositoryExt: OutboxRepository {
    /// Marks leased rows as published.
    fn mark_published(
        &self,
        owner: &str,
        records: &[OutboxRecord],
    ) -> impl Future<Output = Result<u64>> + Send {
        let settlements: Vec<Settlement> = records
            .iter()
            .map(|record| Settlement::of(record, Outcome::Published))
            .collect();
        let owner = owner.to_owned();
        async move { self.settle(&owner, Utc::now(), &settlements).await }
    }

    /// Purges published rows older than `before` in batches of `batch` until none is left;
    /// returns how many went. Each batch is its own short statement, so writers are never held
    /// up for long.
    fn purge_all_published(
        &self,
        before: DateTime<Utc>,
        batch: u32,
    ) -> impl Future<Output = Result<u64>> + Send {
        async move {
            let mut total = 0;
            loop {
                let purged = self.purge_published(before, batch.max(1)).await?;
                total += purged;
                if purged < u64::from(batch.max(1)) {
                    return Ok(total);
                }
            }
        }
    }
}

impl<T: OutboxRepository + ?Sized> OutboxRepositoryExt for T {}

/// A page of dead letters.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLetterQuery {
    /// Only rows after this sequence (the last one of the previous page).
    pub after_sequence: Option<i64>,
    /// Most rows to return.
    pub limit: usize,
}

impl DeadLetterQuery {
    /// The first page of up to `limit` rows.
    pub fn first(limit: usize) -> Self {
        Self {
            after_sequence: None,
            limit,
        }
    }

    /// The page after the row with `sequence`.
    pub fn after(mut self, sequence: i64) -> Self {
        self.after_sequence = Some(sequence);
        self
    }
}

/// What an operator does with dead letters.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait DeadLetterRepository: Send + Sync {
    /// Dead letters in sequence order.
    fn list_dead_letters(
        &self,
        query: &DeadLetterQuery,
    ) -> impl Future<Output = Result<Vec<OutboxRecord>>> + Send;

    /// Makes dead letters pending again with their attempts reset; returns how many. A retried
    /// event is sent after later events of its key that were sent while it was dead.
    fn retry_dead_letters(
        &self,
        ids: &[MessageId],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Deletes dead letters; returns how many.
    fn purge_dead_letters(&self, ids: &[MessageId]) -> impl Future<Output = Result<u64>> + Send;
}

impl<T: DeadLetterRepository + ?Sized> DeadLetterRepository for Arc<T> {
    fn list_dead_letters(
        &self,
        query: &DeadLetterQuery,
    ) -> impl Future<Output = Result<Vec<OutboxRecord>>> + Send {
        (**self).list_dead_letters(query)
    }

    fn retry_dead_letters(
        &self,
        ids: &[MessageId],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<u64>> + Send {
        (**self).retry_dead_letters(ids, now)
    }

    fn purge_dead_letters(&self, ids: &[MessageId]) -> impl Future<Output = Result<u64>> + Send {
        (**self).purge_dead_letters(ids)
    }
}
