use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    sync::{Arc, Mutex, MutexGuard},
};

use chrono::{DateTime, Utc};
use tidings_core::{
    ClaimRequest, DeadLetterQuery, DeadLetterRepository, Envelope, Error, InboxClaim,
    InboxRepository, Limits, MessageId, Notifications, Notifier, OutboxInspector, OutboxRecord,
    OutboxRepository, OutboxStats, Outcome, PublishedQuery, RecordStatus, Result, Settlement,
    StatusGroup, TopicStats, Transactional,
    claim_policy::{self, ClaimCandidate},
};
use tokio::sync::OwnedMutexGuard;

type InboxKey = (String, MessageId);
type Callback = Box<dyn FnOnce() + Send>;

/// An outbox, inbox and business store in process memory. Cloning shares the same store.
#[derive(Clone, Default)]
pub struct MemoryBackend {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// One lock per inbox key being claimed, so a second claim of the same id waits for the
    /// first transaction to end, as a database's unique index makes it wait.
    claim_locks: Mutex<HashMap<InboxKey, Arc<tokio::sync::Mutex<()>>>>,
    notifier: Notifier,
    limits: Limits,
}

#[derive(Default)]
pub(crate) struct State {
    rows: BTreeMap<i64, Row>,
    sequence_of: HashMap<MessageId, i64>,
    next_sequence: i64,
    inbox: HashMap<InboxKey, DateTime<Utc>>,
    pub(crate) tables: HashMap<String, BTreeMap<String, String>>,
}

struct Row {
    envelope: Envelope,
    status: RecordStatus,
    attempts: u32,
    last_error: Option<String>,
    next_attempt_at: DateTime<Utc>,
    lease_owner: Option<String>,
    lease_until: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    published_at: Option<DateTime<Utc>>,
}

impl Row {
    fn record(&self, sequence: i64) -> OutboxRecord {
        OutboxRecord::new(
            self.envelope.clone(),
            sequence,
            self.status,
            self.attempts,
            self.last_error.clone(),
            self.created_at,
        )
    }

    fn leased_by(&self, owner: &str) -> bool {
        self.status == RecordStatus::Leased && self.lease_owner.as_deref() == Some(owner)
    }
}

/// A row as the claim policy sees it, borrowed under the state's lock.
struct Candidate<'a> {
    sequence: i64,
    row: &'a Row,
}

impl ClaimCandidate for Candidate<'_> {
    fn key(&self) -> &str {
        &self.row.envelope.key
    }

    fn status(&self) -> RecordStatus {
        self.row.status
    }

    fn next_attempt_at(&self) -> DateTime<Utc> {
        self.row.next_attempt_at
    }

    fn lease_until(&self) -> Option<DateTime<Utc>> {
        self.row.lease_until
    }
}

/// A transaction of [`MemoryBackend`]: everything written in it is applied when it commits and
/// dropped when it rolls back.
#[derive(Default)]
pub struct MemoryTransaction {
    staged: Vec<(i64, Envelope)>,
    claims: Vec<(InboxKey, DateTime<Utc>, OwnedMutexGuard<()>)>,
    writes: Vec<(String, String, String)>,
    on_commit: Vec<Callback>,
}

impl fmt::Debug for MemoryTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTransaction")
            .field("staged", &self.staged.len())
            .field("claims", &self.claims.len())
            .field("writes", &self.writes.len())
            .finish_non_exhaustive()
    }
}

impl MemoryTransaction {
    /// Writes `value` under `key` in `table` (a business write, visible after commit through
    /// [`MemoryBackend::get`]).
    pub fn insert(
        &mut self,
        table: impl Into<String>,
        key: impl Into<String>,
        value: impl Into<String>,
    ) {
        self.writes.push((table.into(), key.into(), value.into()));
    }

    /// Runs `callback` if and when the transaction commits.
    pub fn on_commit(&mut self, callback: impl FnOnce() + Send + 'static) {
        self.on_commit.push(Box::new(callback));
    }
}

impl fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("MemoryBackend")
            .field("rows", &state.rows.len())
            .field("inbox", &state.inbox.len())
            .finish()
    }
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that enforces `limits` when staging.
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            shared: Arc::new(Shared {
                limits,
                ..Shared::default()
            }),
        }
    }

    /// The value committed under `key` in `table`.
    pub fn get(&self, table: &str, key: &str) -> Option<String> {
        self.state().tables.get(table)?.get(key).cloned()
    }

    /// How many keys `table` holds.
    pub fn count(&self, table: &str) -> usize {
        self.state().tables.get(table).map_or(0, BTreeMap::len)
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters to a test store, so a poisoned lock is used as it is.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn claim_lock(&self, key: &InboxKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .shared
            .claim_locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(locks.entry(key.clone()).or_default())
    }

    fn forget_claim_locks(&self, keys: impl Iterator<Item = InboxKey>) {
        let mut locks = self
            .shared
            .claim_locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for key in keys {
            // Only the map holds it now: nobody is waiting on this key.
            if locks.get(&key).is_some_and(|l| Arc::strong_count(l) == 1) {
                locks.remove(&key);
            }
        }
    }
}

impl Transactional for MemoryBackend {
    type Transaction = MemoryTransaction;

    async fn begin(&self) -> Result<MemoryTransaction> {
        Ok(MemoryTransaction::default())
    }

    async fn commit(&self, transaction: MemoryTransaction) -> Result<()> {
        let MemoryTransaction {
            staged,
            claims,
            writes,
            on_commit,
        } = transaction;
        let now = Utc::now();
        let mut keys = Vec::with_capacity(claims.len());
        {
            let mut state = self.state();
            for (sequence, envelope) in staged {
                state.sequence_of.insert(envelope.id.clone(), sequence);
                state.rows.insert(
                    sequence,
                    Row {
                        envelope,
                        status: RecordStatus::Pending,
                        attempts: 0,
                        last_error: None,
                        next_attempt_at: now,
                        lease_owner: None,
                        lease_until: None,
                        created_at: now,
                        published_at: None,
                    },
                );
            }
            for (key, at, guard) in claims {
                state.inbox.insert(key.clone(), at);
                keys.push(key);
                drop(guard);
            }
            for (table, key, value) in writes {
                state.tables.entry(table).or_default().insert(key, value);
            }
        }
        self.forget_claim_locks(keys.into_iter());
        for callback in on_commit {
            callback();
        }
        Ok(())
    }

    async fn rollback(&self, transaction: MemoryTransaction) -> Result<()> {
        let keys: Vec<InboxKey> = transaction.claims.iter().map(|c| c.0.clone()).collect();
        drop(transaction);
        self.forget_claim_locks(keys.into_iter());
        Ok(())
    }
}

impl OutboxRepository for MemoryBackend {
    async fn stage(
        &self,
        transaction: &mut MemoryTransaction,
        envelopes: &[Envelope],
    ) -> Result<()> {
        for envelope in envelopes {
            envelope.validate(&self.shared.limits)?;
        }
        let mut state = self.state();
        for envelope in envelopes {
            let known = state.sequence_of.contains_key(&envelope.id)
                || transaction.staged.iter().any(|(_, e)| e.id == envelope.id);
            if known {
                return Err(Error::InvalidMessage(format!(
                    "an event with id {} is already in the outbox",
                    envelope.id
                )));
            }
        }
        // Sequences are taken now, before commit, as a database sequence would be: a row can
        // become visible after rows with higher sequences.
        for envelope in envelopes {
            state.next_sequence += 1;
            transaction
                .staged
                .push((state.next_sequence, envelope.clone()));
        }
        Ok(())
    }

    async fn claim_batch(&self, request: &ClaimRequest) -> Result<Vec<OutboxRecord>> {
        let mut state = self.state();
        let candidates = state
            .rows
            .iter()
            .filter(|(_, row)| matches!(row.status, RecordStatus::Pending | RecordStatus::Leased))
            .map(|(sequence, row)| Candidate {
                sequence: *sequence,
                row,
            });
        let chosen: Vec<i64> = claim_policy::take_runs(request, candidates)
            .into_iter()
            .map(|candidate| candidate.sequence)
            .collect();
        let lease_until = request.lease_until();
        let mut claimed = Vec::with_capacity(chosen.len());
        for sequence in chosen {
            if let Some(row) = state.rows.get_mut(&sequence) {
                row.status = RecordStatus::Leased;
                row.lease_owner = Some(request.owner.clone());
                row.lease_until = Some(lease_until);
                claimed.push(row.record(sequence));
            }
        }
        Ok(claimed)
    }

    async fn settle(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        settlements: &[Settlement],
    ) -> Result<u64> {
        let mut state = self.state();
        let mut applied = 0;
        for settlement in settlements {
            let Some(sequence) = state.sequence_of.get(&settlement.id).copied() else {
                continue;
            };
            let Some(row) = state.rows.get_mut(&sequence) else {
                continue;
            };
            let apply = match settlement.outcome {
                Outcome::Published => {
                    matches!(row.status, RecordStatus::Pending | RecordStatus::Leased)
                }
                _ => row.leased_by(owner),
            };
            if !apply {
                continue;
            }
            applied += 1;
            row.lease_owner = None;
            row.lease_until = None;
            match &settlement.outcome {
                Outcome::Published => {
                    row.status = RecordStatus::Published;
                    row.published_at = Some(now);
                }
                Outcome::Retry { error, at } => {
                    row.status = RecordStatus::Pending;
                    row.attempts += 1;
                    row.last_error = Some(error.clone());
                    row.next_attempt_at = *at;
                }
                Outcome::DeadLetter { error } => {
                    row.status = RecordStatus::Dead;
                    row.attempts += 1;
                    row.last_error = Some(error.clone());
                }
                Outcome::Release => row.status = RecordStatus::Pending,
            }
        }
        Ok(applied)
    }

    async fn purge_published(&self, before: DateTime<Utc>, limit: u32) -> Result<u64> {
        let mut state = self.state();
        let doomed: Vec<i64> = state
            .rows
            .iter()
            .filter(|(_, r)| r.status == RecordStatus::Published)
            .filter(|(_, r)| r.published_at.is_some_and(|t| t < before))
            .map(|(s, _)| *s)
            .take(limit as usize)
            .collect();
        for sequence in &doomed {
            if let Some(row) = state.rows.remove(sequence) {
                state.sequence_of.remove(&row.envelope.id);
            }
        }
        Ok(doomed.len() as u64)
    }

    async fn stats(&self) -> Result<OutboxStats> {
        let state = self.state();
        let count = |status| state.rows.values().filter(|r| r.status == status).count() as u64;
        Ok(OutboxStats::new(
            count(RecordStatus::Pending),
            count(RecordStatus::Leased),
            count(RecordStatus::Published),
            count(RecordStatus::Dead),
        ))
    }

    fn subscribe(&self) -> Option<Notifications> {
        Some(self.shared.notifier.subscribe())
    }

    fn after_commit(&self) {
        self.shared.notifier.notify();
    }
}

impl InboxRepository for MemoryBackend {
    async fn claim_message(
        &self,
        transaction: &mut MemoryTransaction,
        consumer: &str,
        id: &MessageId,
        now: DateTime<Utc>,
    ) -> Result<InboxClaim> {
        let key = (consumer.to_owned(), id.clone());
        if transaction.claims.iter().any(|c| c.0 == key) {
            return Ok(InboxClaim::Duplicate);
        }
        let guard = self.claim_lock(&key).lock_owned().await;
        if self.state().inbox.contains_key(&key) {
            drop(guard);
            self.forget_claim_locks(std::iter::once(key));
            return Ok(InboxClaim::Duplicate);
        }
        transaction.claims.push((key, now, guard));
        Ok(InboxClaim::Fresh)
    }

    async fn purge_inbox(&self, before: DateTime<Utc>, limit: u32) -> Result<u64> {
        let mut state = self.state();
        let doomed: Vec<InboxKey> = state
            .inbox
            .iter()
            .filter(|(_, at)| **at < before)
            .map(|(k, _)| k.clone())
            .take(limit as usize)
            .collect();
        for key in &doomed {
            state.inbox.remove(key);
        }
        Ok(doomed.len() as u64)
    }

    async fn contains(&self, consumer: &str, id: &MessageId) -> Result<bool> {
        let key = (consumer.to_owned(), id.clone());
        Ok(self.state().inbox.contains_key(&key))
    }
}

impl DeadLetterRepository for MemoryBackend {
    async fn list_dead_letters(&self, query: &DeadLetterQuery) -> Result<Vec<OutboxRecord>> {
        let state = self.state();
        let start = query
            .after_sequence
            .map_or(i64::MIN, |s| s.saturating_add(1));
        Ok(state
            .rows
            .range(start..)
            .filter(|(_, r)| r.status == RecordStatus::Dead)
            .take(query.limit)
            .map(|(s, r)| r.record(*s))
            .collect())
    }

    async fn retry_dead_letters(&self, ids: &[MessageId], now: DateTime<Utc>) -> Result<u64> {
        let mut state = self.state();
        let mut retried = 0;
        for id in ids {
            let Some(sequence) = state.sequence_of.get(id).copied() else {
                continue;
            };
            if let Some(row) = state.rows.get_mut(&sequence)
                && row.status == RecordStatus::Dead
            {
                row.status = RecordStatus::Pending;
                row.attempts = 0;
                row.next_attempt_at = now;
                retried += 1;
            }
        }
        Ok(retried)
    }

    async fn purge_dead_letters(&self, ids: &[MessageId]) -> Result<u64> {
        let mut state = self.state();
        let mut purged = 0;
        for id in ids {
            let Some(sequence) = state.sequence_of.get(id).copied() else {
                continue;
            };
            if state
                .rows
                .get(&sequence)
                .is_some_and(|r| r.status == RecordStatus::Dead)
            {
                state.rows.remove(&sequence);
                state.sequence_of.remove(id);
                purged += 1;
            }
        }
        Ok(purged)
    }
}

impl OutboxInspector for MemoryBackend {
    async fn topic_stats(&self) -> Result<Vec<TopicStats>> {
        let state = self.state();
        let groups = state.rows.values().map(|row| StatusGroup {
            topic: &row.envelope.topic,
            status: row.status.as_str(),
            count: 1,
            first_created: Some(row.created_at),
            last_published: row.published_at,
        });
        Ok(TopicStats::from_groups(groups))
    }

    async fn list_published(&self, query: &PublishedQuery) -> Result<Vec<OutboxRecord>> {
        let state = self.state();
        Ok(state
            .rows
            .iter()
            .filter(|(sequence, row)| {
                row.status == RecordStatus::Published
                    && row
                        .published_at
                        .is_some_and(|at| query.admits(at, **sequence))
            })
            .take(query.limit)
            .map(|(sequence, row)| row.record(*sequence))
            .collect())
    }
}
