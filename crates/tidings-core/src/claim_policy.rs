//! Which outbox rows a claim may hand out: the one rule every adapter keeps, written once.
//!
//! A row may go out when it is pending and due, or leased with a lease that has run out
//! ([`admits`]), and only when every earlier unfinished row of its key goes out with it: the
//! first row of a key that may not go (a retry not yet due, a live lease) holds back the rest
//! of its key ([`take_runs`]). A claim takes rows of at most
//! [`key_limit`](ClaimRequest::key_limit) keys and at most `limit` rows.
//!
//! Adapters that read candidates into memory (memory, SQLite, MongoDB, DynamoDB) call
//! [`take_runs`]; PostgreSQL states the same rule in its claim statement.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::{ClaimRequest, OutboxRecord, RecordStatus};

/// An unfinished outbox row as a claim sees it.
pub trait ClaimCandidate {
    /// The row's partition key.
    fn key(&self) -> &str;
    /// Its status.
    fn status(&self) -> RecordStatus;
    /// When a pending row is due.
    fn next_attempt_at(&self) -> DateTime<Utc>;
    /// When a leased row's lease ends.
    fn lease_until(&self) -> Option<DateTime<Utc>>;
}

/// A row read for a claim: the record and the times the rule needs.
#[derive(Clone, Debug)]
pub struct ClaimView {
    /// The row.
    pub record: OutboxRecord,
    /// When it is due, if pending.
    pub next_attempt_at: DateTime<Utc>,
    /// When its lease ends, if leased.
    pub lease_until: Option<DateTime<Utc>>,
}

impl ClaimCandidate for ClaimView {
    fn key(&self) -> &str {
        &self.record.envelope.key
    }

    fn status(&self) -> RecordStatus {
        self.record.status
    }

    fn next_attempt_at(&self) -> DateTime<Utc> {
        self.next_attempt_at
    }

    fn lease_until(&self) -> Option<DateTime<Utc>> {
        self.lease_until
    }
}

/// Whether a row may be handed out at `now`, its key's earlier rows aside: pending and due, or
/// leased with a lease that has run out.
pub fn admits(
    now: DateTime<Utc>,
    status: RecordStatus,
    next_attempt_at: DateTime<Utc>,
    lease_until: Option<DateTime<Utc>>,
) -> bool {
    match status {
        RecordStatus::Pending => next_attempt_at <= now,
        RecordStatus::Leased => lease_until.is_some_and(|t| t <= now),
        RecordStatus::Published | RecordStatus::Dead => false,
    }
}

/// From unfinished rows of some keys, in sequence order, keeps per key the rows up to the first
/// one `request` does not admit. Rows of keys beyond the request's key limit are left, and so is
/// everything after the first `limit` rows taken.
pub fn take_runs<C: ClaimCandidate>(
    request: &ClaimRequest,
    rows: impl IntoIterator<Item = C>,
) -> Vec<C> {
    let mut blocked: HashSet<String> = HashSet::new();
    let mut keys: HashSet<String> = HashSet::new();
    let mut taken = Vec::new();
    for row in rows {
        if taken.len() >= request.limit {
            break;
        }
        if blocked.contains(row.key()) {
            continue;
        }
        let new_key = !keys.contains(row.key());
        let admitted = admits(
            request.now,
            row.status(),
            row.next_attempt_at(),
            row.lease_until(),
        );
        if !admitted || (new_key && keys.len() >= request.key_limit()) {
            blocked.insert(row.key().to_owned());
            continue;
        }
        if new_key {
            keys.insert(row.key().to_owned());
        }
        taken.push(row);
    }
    taken
}
