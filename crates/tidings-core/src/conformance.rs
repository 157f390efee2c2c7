//! The behavioural suite every adapter runs: one `pub async fn` per invariant of the design.
//!
//! An adapter's tests build a fresh [`Harness`] per test (a new database file, schema or
//! collection prefix) and call each function. The unit-of-work invariants go through the real
//! `tidings-uow` code, which implements [`Harness`] for any backend that is a [`MarkerStore`];
//! the relay-side invariants drive the repository ports directly, with the clock passed in, so no
//! test sleeps.
//!
//! A capability a backend lacks is declared in [`Capabilities`] and the function says which
//! weaker property it checked instead; nothing is skipped silently.

pub mod persistent;

use std::{
    collections::HashMap, future::Future, panic::AssertUnwindSafe, pin::Pin, time::Duration,
};

use chrono::{DateTime, Utc};

use crate::{
    ClaimRequest, DeadLetterQuery, DeadLetterRepository, Envelope, EnvelopeFactory, Error,
    InboxRepository, Limits, Message, MessageId, OutboxRecord, OutboxRepository, Outcome,
    RecordStatus, Result, Settlement, Transactional,
};

/// What a backend can do, declared by its adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Two write transactions can be open at once (false for SQLite, which serialises writers,
    /// so a row can never commit after a row with a higher sequence).
    pub concurrent_writers: bool,
}

impl Capabilities {
    /// Capabilities of a backend with concurrent write transactions.
    pub fn full() -> Self {
        Self {
            concurrent_writers: true,
        }
    }

    /// Declares that only one write transaction can be open at a time.
    pub fn serialised_writers(mut self) -> Self {
        self.concurrent_writers = false;
        self
    }
}

/// A backend that can also write a business row for the suite to count: the stand-in for a
/// handler's own data.
pub trait MarkerStore:
    OutboxRepository + InboxRepository + DeadLetterRepository + Clone + 'static
{
    /// Writes one row tagged `marker` within `transaction`.
    fn write_marker(
        &self,
        transaction: &mut Self::Transaction,
        marker: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Committed rows tagged `marker`.
    fn count_markers(&self, marker: &str) -> impl Future<Output = Result<u64>> + Send;

    /// Another handle on the same store through connections of its own, as a second process
    /// would have (the in-memory store, having no connections, returns a clone).
    fn reconnect(&self) -> impl Future<Output = Result<Self>> + Send;

    /// This handle, numbering its rows as if its host's clock ran `offset` ahead: a writer on
    /// another host. `None` (the default) declares that the backend's sequences do not come
    /// from a clock (the database assigns them), so no writer's clock can misorder them.
    fn with_clock_skew(self, offset: chrono::TimeDelta) -> Option<Self> {
        let _ = offset;
        None
    }
}

/// How the handler of a [`WorkPlan`] ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Returns `Ok`.
    Commit,
    /// Returns an error.
    Fail,
    /// Panics.
    Panic,
}

/// One unit of work for the suite to run: an optional incoming message, a business write, the
/// events to stage and how the handler ends.
#[derive(Clone, Debug)]
pub struct WorkPlan {
    /// Handled through the inbox when set; otherwise a plain unit of work.
    pub incoming: Option<Envelope>,
    /// Consumer name for the inbox claim.
    pub consumer: String,
    /// Tag of the business row the handler writes.
    pub marker: String,
    /// Envelopes the handler stages, one by one; a rejected one is reported and the handler
    /// goes on.
    pub outgoing: Vec<Envelope>,
    /// How the handler ends.
    pub ending: Ending,
}

impl WorkPlan {
    /// A plan that writes `marker`, stages `outgoing` and commits.
    pub fn commit(marker: &str, outgoing: Vec<Envelope>) -> Self {
        Self {
            incoming: None,
            consumer: "conformance".to_owned(),
            marker: marker.to_owned(),
            outgoing,
            ending: Ending::Commit,
        }
    }

    /// Handles `incoming` through the inbox.
    pub fn handling(mut self, incoming: &Envelope) -> Self {
        self.incoming = Some(incoming.clone());
        self
    }

    /// Ends the handler with `ending`.
    pub fn ending(mut self, ending: Ending) -> Self {
        self.ending = ending;
        self
    }

    /// Claims as `consumer`.
    pub fn as_consumer(mut self, consumer: &str) -> Self {
        self.consumer = consumer.to_owned();
        self
    }
}

/// What became of a [`WorkPlan`].
#[derive(Debug)]
pub enum WorkOutcome {
    /// Committed; the errors of the envelopes that were rejected at staging, in order.
    Committed(Vec<Error>),
    /// The incoming message was a duplicate; the handler did not run.
    Duplicate,
    /// The handler failed and everything was rolled back.
    HandlerFailed,
    /// The handler panicked and everything was rolled back.
    HandlerPanicked,
}

impl WorkOutcome {
    fn committed(&self) -> bool {
        matches!(self, Self::Committed(_))
    }
}

/// Runs [`WorkPlan`]s through a real unit of work of one backend.
pub trait Harness: Send + Sync {
    /// The backend under test.
    type Backend: MarkerStore;

    /// The backend.
    fn backend(&self) -> &Self::Backend;

    /// What the backend can do.
    fn capabilities(&self) -> Capabilities;

    /// Runs `plan` in one unit of work.
    fn run(&self, plan: WorkPlan) -> impl Future<Output = Result<WorkOutcome>> + Send;

    /// A second harness on the same store with connections of its own.
    fn twin(&self) -> impl Future<Output = Result<Self>> + Send
    where
        Self: Sized;

    /// A second harness on the same store whose clock runs `offset` ahead, as a writer on
    /// another host; `None` when the backend's sequences do not come from a clock
    /// ([`MarkerStore::with_clock_skew`]).
    fn skewed_twin(
        &self,
        offset: chrono::TimeDelta,
    ) -> impl Future<Output = Result<Option<Self>>> + Send
    where
        Self: Sized;
}

/// The address of a test server from environment variable `var`. Without it the test says so
/// and is skipped (`None`) — except under CI (`CI=true`), where a missing server is a failure.
pub fn server_from_env(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Some(value),
        _ if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            panic!("{var} is not set under CI: start the servers with scripts/services up")
        }
        _ => {
            eprintln!(
                "skipped: {var} is not set (run `eval \"$(scripts/services env)\"` after `scripts/services up`)"
            );
            None
        }
    }
}

/// A name no other test uses, for topics, keys and markers.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    format!("{prefix}-{}", &id[id.len() - 12..])
}

/// An envelope on `topic` with key `key` whose payload names it `label`.
pub fn event(topic: &str, key: &str, label: &str) -> Envelope {
    Envelope::new(
        topic,
        key,
        "conformance.event",
        "application/json",
        serde_json::to_vec(&serde_json::json!({ "label": label })).unwrap_or_default(),
    )
}

fn label(record: &OutboxRecord) -> String {
    serde_json::from_slice::<serde_json::Value>(&record.envelope.payload)
        .ok()
        .and_then(|v| v["label"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn labels(records: &[OutboxRecord]) -> Vec<String> {
    records.iter().map(label).collect()
}

fn ids(records: &[OutboxRecord]) -> Vec<MessageId> {
    records.iter().map(|r| r.envelope.id.clone()).collect()
}

fn at(base: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    base + chrono::Duration::seconds(seconds)
}

const LEASE: Duration = Duration::from_secs(30);

async fn claim<B: OutboxRepository>(
    backend: &B,
    owner: &str,
    now: DateTime<Utc>,
) -> Vec<OutboxRecord> {
    backend
        .claim_batch(&ClaimRequest::new(owner, 1000, LEASE).at(now))
        .await
        .expect("claim_batch failed")
}

async fn settle_all<B: OutboxRepository>(
    backend: &B,
    owner: &str,
    now: DateTime<Utc>,
    records: &[OutboxRecord],
    outcome: Outcome,
) -> u64 {
    let settlements: Vec<Settlement> = records
        .iter()
        .map(|r| Settlement::of(r, outcome.clone()))
        .collect();
    backend
        .settle(owner, now, &settlements)
        .await
        .expect("settle failed")
}

async fn run<H: Harness>(harness: &H, plan: WorkPlan) -> WorkOutcome {
    harness.run(plan).await.expect("the unit of work failed")
}

async fn markers<H: Harness>(harness: &H, marker: &str) -> u64 {
    harness
        .backend()
        .count_markers(marker)
        .await
        .expect("count_markers failed")
}

/// Invariant 1: the business write and the staged events of a committed unit of work exist
/// together, and the events come back from a claim in the order they were staged.
pub async fn atomic_outbox_commit<H: Harness>(harness: &H) {
    let topic = unique("orders");
    let marker = unique("commit");
    let outgoing = vec![event(&topic, "k", "first"), event(&topic, "k", "second")];
    let outcome = run(harness, WorkPlan::commit(&marker, outgoing)).await;
    assert!(outcome.committed(), "expected a commit, got {outcome:?}");
    assert_eq!(markers(harness, &marker).await, 1, "business write missing");
    let claimed = claim(harness.backend(), "relay", Utc::now()).await;
    assert_eq!(labels(&claimed), ["first", "second"], "staged rows missing");
    assert!(claimed.iter().all(|r| r.envelope.topic == topic));
}

async fn assert_rolled_back<H: Harness>(harness: &H, ending: Ending) {
    let topic = unique("orders");
    let marker = unique("rollback");
    let incoming = event(&unique("in"), "k", "incoming");
    let plan = WorkPlan::commit(&marker, vec![event(&topic, "k", "never")])
        .handling(&incoming)
        .ending(ending);
    let outcome = run(harness, plan.clone()).await;
    match (ending, &outcome) {
        (Ending::Fail, WorkOutcome::HandlerFailed)
        | (Ending::Panic, WorkOutcome::HandlerPanicked) => {}
        _ => panic!("a handler ending with {ending:?} gave {outcome:?}"),
    }
    assert_eq!(
        markers(harness, &marker).await,
        0,
        "business write survived a rollback"
    );
    let claimed = claim(harness.backend(), "relay", Utc::now()).await;
    assert!(
        claimed.is_empty(),
        "staged rows survived a rollback: {:?}",
        labels(&claimed)
    );
    let stats = harness.backend().stats().await.expect("stats failed");
    assert_eq!(
        stats.pending + stats.leased + stats.published,
        0,
        "{stats:?}"
    );
    // The inbox claim was rolled back too: the message can be handled again.
    let retried = run(harness, plan.ending(Ending::Commit)).await;
    assert!(
        retried.committed(),
        "redelivery after a rollback gave {retried:?}"
    );
    assert_eq!(markers(harness, &marker).await, 1);
}

/// Invariant 1: a handler error rolls back the business write, the staged events and the
/// inbox claim.
pub async fn atomic_outbox_rollback_on_error<H: Harness>(harness: &H) {
    assert_rolled_back(harness, Ending::Fail).await;
}

/// Invariant 1: a panic in the handler rolls back everything, like an error.
pub async fn atomic_outbox_rollback_on_panic<H: Harness>(harness: &H) {
    assert_rolled_back(harness, Ending::Panic).await;
}

/// Invariant 2: a message handled twice, one after the other, is applied once; the second
/// handler's effects and events are not written. Another consumer applies it on its own.
pub async fn inbox_duplicate_sequential<H: Harness>(harness: &H) {
    let topic = unique("out");
    let incoming = event(&unique("in"), "k", "incoming");
    let (first, second) = (unique("first"), unique("second"));
    let plan = |marker: &str, label: &str| {
        WorkPlan::commit(marker, vec![event(&topic, "k", label)]).handling(&incoming)
    };
    assert!(run(harness, plan(&first, "from-first")).await.committed());
    let again = run(harness, plan(&second, "from-second")).await;
    assert!(
        matches!(again, WorkOutcome::Duplicate),
        "second delivery gave {again:?}"
    );
    assert_eq!(markers(harness, &first).await, 1);
    assert_eq!(
        markers(harness, &second).await,
        0,
        "a duplicate's effects were written"
    );
    let claimed = claim(harness.backend(), "relay", Utc::now()).await;
    assert_eq!(
        labels(&claimed),
        ["from-first"],
        "a duplicate's events were staged"
    );

    let other = unique("other");
    let by_other = run(
        harness,
        WorkPlan::commit(&other, vec![])
            .handling(&incoming)
            .as_consumer("other"),
    )
    .await;
    assert!(
        by_other.committed(),
        "another consumer must apply the message too: {by_other:?}"
    );
}

/// Invariant 2: the same message handled concurrently through two harnesses on one store (with
/// connection pools of their own, as two processes would have) is applied exactly once.
pub async fn inbox_duplicate_concurrent<H: Harness>(one: &H) {
    let two = &one
        .twin()
        .await
        .expect("a second harness on the same store");
    let topic = unique("out");
    let incoming = event(&unique("in"), "k", "incoming");
    for round in 0..8 {
        let incoming = Envelope {
            id: MessageId::new(),
            ..incoming.clone()
        };
        let marker = unique("concurrent");
        let plan = |label: &str| {
            WorkPlan::commit(&marker, vec![event(&topic, &format!("k{round}"), label)])
                .handling(&incoming)
        };
        let (a, b) = tokio::join!(one.run(plan("a")), two.run(plan("b")));
        let outcomes = [
            a.expect("first delivery failed"),
            b.expect("second delivery failed"),
        ];
        let committed = outcomes.iter().filter(|o| o.committed()).count();
        let duplicates = outcomes
            .iter()
            .filter(|o| matches!(o, WorkOutcome::Duplicate))
            .count();
        assert_eq!(
            (committed, duplicates),
            (1, 1),
            "round {round}: {outcomes:?}"
        );
        assert_eq!(
            markers(one, &marker).await,
            1,
            "round {round}: effects applied twice"
        );
    }
    let claimed = claim(one.backend(), "relay", Utc::now()).await;
    assert_eq!(
        claimed.len(),
        8,
        "one staged event per message: {:?}",
        labels(&claimed)
    );
}

/// Invariant 3: a row whose transaction commits after a later row was claimed and published is
/// still found (rows are found by state, not by the last sequence seen). On a backend with
/// serialised writers that interleaving cannot happen; the function then checks the sequential
/// case and says so.
pub async fn late_commit_is_not_lost<H: Harness>(harness: &H) {
    let backend = harness.backend();
    let topic = unique("late");
    let early = event(&topic, "k-early", "early-sequence");
    let late = event(&topic, "k-late", "late-sequence");
    if harness.capabilities().concurrent_writers {
        let mut slow = backend.begin().await.expect("begin");
        backend.stage(&mut slow, &[early]).await.expect("stage");
        let mut fast = backend.begin().await.expect("begin");
        backend.stage(&mut fast, &[late]).await.expect("stage");
        backend.commit(fast).await.expect("commit");
        let first = claim(backend, "relay", Utc::now()).await;
        assert_eq!(labels(&first), ["late-sequence"]);
        settle_all(backend, "relay", Utc::now(), &first, Outcome::Published).await;
        backend.commit(slow).await.expect("commit");
    } else {
        eprintln!(
            "late_commit_is_not_lost: the backend serialises writers, so a row cannot commit \
             after a later one; checking that a row committed after a publish is found"
        );
        let mut tx = backend.begin().await.expect("begin");
        backend.stage(&mut tx, &[late]).await.expect("stage");
        backend.commit(tx).await.expect("commit");
        let first = claim(backend, "relay", Utc::now()).await;
        settle_all(backend, "relay", Utc::now(), &first, Outcome::Published).await;
        let mut tx = backend.begin().await.expect("begin");
        backend.stage(&mut tx, &[early]).await.expect("stage");
        backend.commit(tx).await.expect("commit");
    }
    let second = claim(backend, "relay", Utc::now()).await;
    assert_eq!(
        labels(&second),
        ["early-sequence"],
        "the late-committing row was lost"
    );
}

async fn stage_committed<B: OutboxRepository>(backend: &B, envelopes: &[Envelope]) {
    let mut tx = backend.begin().await.expect("begin");
    backend.stage(&mut tx, envelopes).await.expect("stage");
    backend.commit(tx).await.expect("commit");
}

/// Invariant 3: a relay that dies holding a lease loses nothing: once the lease runs out
/// another relay gets the rows, and the dead relay can no longer settle them. A failed send
/// comes back when its retry is due.
pub async fn leases_expire_and_failures_come_back<H: Harness>(harness: &H) {
    let backend = harness.backend();
    let topic = unique("lease");
    stage_committed(
        backend,
        &[event(&topic, "k", "one"), event(&topic, "k", "two")],
    )
    .await;
    let t0 = Utc::now();
    let held = claim(backend, "crashed", t0).await;
    assert_eq!(labels(&held), ["one", "two"]);
    assert!(
        claim(backend, "other", at(t0, 1)).await.is_empty(),
        "leased rows were claimed twice"
    );
    let taken = claim(backend, "other", at(t0, 31)).await;
    assert_eq!(
        labels(&taken),
        ["one", "two"],
        "rows of an expired lease were not handed over"
    );
    let late = settle_all(backend, "crashed", at(t0, 32), &held, Outcome::Release).await;
    assert_eq!(late, 0, "a relay settled rows after losing its lease");

    let (one, two) = (&taken[..1], &taken[1..]);
    let retry_at = at(t0, 90);
    let failure = Outcome::Retry {
        error: "broker down".to_owned(),
        at: retry_at,
    };
    assert_eq!(
        settle_all(backend, "other", at(t0, 33), one, failure).await,
        1
    );
    assert_eq!(
        settle_all(backend, "other", at(t0, 33), two, Outcome::Release).await,
        1
    );
    assert!(
        claim(backend, "other", at(t0, 60)).await.is_empty(),
        "a retry came back early"
    );
    let again = claim(backend, "other", retry_at).await;
    assert_eq!(labels(&again), ["one", "two"]);
    assert_eq!(again[0].attempts, 1, "a failed attempt was not counted");
    assert_eq!(again[0].last_error.as_deref(), Some("broker down"));
    assert_eq!(
        again[1].attempts, 0,
        "a released row was counted as attempted"
    );
}

/// Invariant 4: rows come back per key in staging order, a key leased by one relay is not handed
/// to another, and a failed row holds back the later rows of its key only.
pub async fn order_per_key<H: Harness>(harness: &H) {
    let backend = harness.backend();
    let topic = unique("order");
    stage_committed(
        backend,
        &[event(&topic, "a", "a1"), event(&topic, "b", "b1")],
    )
    .await;
    stage_committed(
        backend,
        &[event(&topic, "a", "a2"), event(&topic, "a", "a3")],
    )
    .await;
    stage_committed(
        backend,
        &[event(&topic, "b", "b2"), event(&topic, "a", "a4")],
    )
    .await;
    let t0 = Utc::now();
    let claimed = claim(backend, "one", t0).await;
    let per_key = |records: &[OutboxRecord], key: &str| -> Vec<String> {
        records
            .iter()
            .filter(|r| r.envelope.key == key)
            .map(label)
            .collect()
    };
    assert_eq!(per_key(&claimed, "a"), ["a1", "a2", "a3", "a4"]);
    assert_eq!(per_key(&claimed, "b"), ["b1", "b2"]);
    let sequences: Vec<i64> = claimed.iter().map(|r| r.sequence).collect();
    assert!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "not in sequence order: {sequences:?}"
    );
    stage_committed(backend, &[event(&topic, "a", "a5")]).await;
    assert!(
        claim(backend, "two", t0).await.is_empty(),
        "a row of a key leased by another relay was handed out"
    );

    // a1 fails: a2..a4 are released; b is published. Nothing of key a may go before a1.
    let (a1, rest): (Vec<_>, Vec<_>) = claimed.iter().cloned().partition(|r| label(r) == "a1");
    let retry = Outcome::Retry {
        error: "refused".to_owned(),
        at: at(t0, 60),
    };
    settle_all(backend, "one", t0, &a1, retry).await;
    let (a_rest, b): (Vec<_>, Vec<_>) = rest.into_iter().partition(|r| r.envelope.key == "a");
    settle_all(backend, "one", t0, &a_rest, Outcome::Release).await;
    settle_all(backend, "one", t0, &b, Outcome::Published).await;
    stage_committed(backend, &[event(&topic, "b", "b3")]).await;
    let meanwhile = claim(backend, "two", at(t0, 1)).await;
    assert_eq!(
        labels(&meanwhile),
        ["b3"],
        "key a must wait for a1; key b must not"
    );
    settle_all(backend, "two", at(t0, 1), &meanwhile, Outcome::Published).await;
    let resumed = claim(backend, "two", at(t0, 61)).await;
    assert_eq!(labels(&resumed), ["a1", "a2", "a3", "a4", "a5"]);
}

/// Invariant 4 across hosts: a key's rows follow commit order when the writers' clocks
/// disagree. A writer whose clock runs an hour ahead commits first; then a writer on this
/// host's clock commits more events of the same key, alone and beside another key; then the
/// first again. A backend that numbers rows by the staging clock would number the second
/// writer's rows below the first's and send them first. A backend whose sequences the database
/// assigns has no writer's clock to go wrong: the function says so and checks two writers on
/// one clock.
pub async fn sequences_follow_commit_order_when_another_clock_runs_ahead<H: Harness>(harness: &H) {
    let skewed = harness
        .skewed_twin(chrono::TimeDelta::hours(1))
        .await
        .expect("a writer with a clock of its own");
    let ahead = match skewed {
        Some(ahead) => ahead,
        None => {
            eprintln!(
                "sequences_follow_commit_order_when_another_clock_runs_ahead: the database \
                 assigns this backend's sequences, no writer's clock; checking two writers \
                 on one clock"
            );
            harness.twin().await.expect("twin")
        }
    };
    let topic = unique("skew");
    let (hot, other) = (unique("hot"), unique("other"));
    let commit = async |writer: &H, events: &[(&str, &str)]| {
        let outgoing = events
            .iter()
            .map(|(key, label)| event(&topic, key, label))
            .collect();
        let outcome = run(writer, WorkPlan::commit(&unique("skew"), outgoing)).await;
        assert!(outcome.committed(), "{outcome:?}");
    };
    commit(&ahead, &[(&hot, "h1"), (&other, "o1")]).await;
    commit(harness, &[(&hot, "h2")]).await;
    commit(harness, &[(&other, "o2"), (&hot, "h3")]).await;
    commit(&ahead, &[(&hot, "h4")]).await;
    let claimed = claim(harness.backend(), "relay", Utc::now()).await;
    let of_key = |key: &str| -> Vec<String> {
        claimed
            .iter()
            .filter(|r| r.envelope.key == key)
            .map(label)
            .collect()
    };
    assert_eq!(
        of_key(&hot),
        ["h1", "h2", "h3", "h4"],
        "the rows of a key left out of commit order"
    );
    assert_eq!(of_key(&other), ["o1", "o2"]);
}

/// Invariant 4: rows still leased by a live relay are never handed to another, even when an
/// earlier row of their key has become claimable again (a relay that settled part of a batch).
pub async fn live_leases_are_not_taken_over<H: Harness>(harness: &H) {
    let backend = harness.backend();
    let topic = unique("partial");
    stage_committed(
        backend,
        &[
            event(&topic, "k", "x1"),
            event(&topic, "k", "x2"),
            event(&topic, "k", "x3"),
        ],
    )
    .await;
    let t0 = Utc::now();
    let held = claim(backend, "one", t0).await;
    assert_eq!(labels(&held), ["x1", "x2", "x3"]);
    let retry = Outcome::Retry {
        error: "refused".to_owned(),
        at: t0,
    };
    settle_all(backend, "one", t0, &held[..1], retry).await;
    // x3 given back while x2 is still being sent: x3 must wait behind x2.
    settle_all(backend, "one", t0, &held[2..], Outcome::Release).await;
    let taken = claim(backend, "two", at(t0, 1)).await;
    assert!(
        labels(&taken) == ["x1"],
        "a live lease was taken over or overtaken: {:?}",
        labels(&taken)
    );
}

/// Invariants 4 and 5: a key held by another relay, with a backlog longer than any page a
/// claim reads at once, neither starves the keys behind it nor has its tail handed out.
pub async fn a_held_key_with_a_long_backlog_starves_nobody<H: Harness>(harness: &H) {
    let backend = harness.backend();
    let topic = unique("backlog");
    let held: Vec<Envelope> = (1..=250)
        .map(|n| event(&topic, "a", &format!("a{n}")))
        .collect();
    // In several commits: a DynamoDB transaction holds at most 100 items.
    for commit in held.chunks(50) {
        stage_committed(backend, commit).await;
    }
    stage_committed(
        backend,
        &[
            event(&topic, "b", "b1"),
            event(&topic, "b", "b2"),
            event(&topic, "b", "b3"),
        ],
    )
    .await;
    let t0 = Utc::now();
    let first = backend
        .claim_batch(&ClaimRequest::new("one", 1, LEASE).at(t0))
        .await
        .expect("claim_batch failed");
    assert_eq!(labels(&first), ["a1"]);
    let second = backend
        .claim_batch(&ClaimRequest::new("two", 3, LEASE).at(t0))
        .await
        .expect("claim_batch failed");
    assert_eq!(
        labels(&second),
        ["b1", "b2", "b3"],
        "the held key's tail was handed out, or the key behind it starved"
    );
}

/// Invariant 4 with workers sharing keys: a claim limited to `max_keys` takes whole runs of the
/// keys with the earliest heads and leaves the other keys to the next claim.
pub async fn key_shares_split_keys_between_workers<H: Harness>(harness: &H) {
    let backend = harness.backend();
    let topic = unique("share");
    stage_committed(
        backend,
        &[
            event(&topic, "a", "a1"),
            event(&topic, "b", "b1"),
            event(&topic, "c", "c1"),
            event(&topic, "a", "a2"),
            event(&topic, "b", "b2"),
            event(&topic, "c", "c2"),
        ],
    )
    .await;
    let t0 = Utc::now();
    let share = async |owner: &str| {
        let request = ClaimRequest::new(owner, 1000, LEASE)
            .at(t0)
            .with_max_keys(2);
        backend
            .claim_batch(&request)
            .await
            .expect("claim_batch failed")
    };
    let first = share("one").await;
    assert_eq!(labels(&first), ["a1", "b1", "a2", "b2"], "first share");
    let second = share("two").await;
    assert_eq!(labels(&second), ["c1", "c2"], "second share");
    assert!(share("three").await.is_empty(), "every key is held");
}

/// Invariant 4 with several relays: relays claiming at the same time (small batches, many keys)
/// never hold the same key at once, and every key is published in staging order.
pub async fn concurrent_relays_keep_order_per_key<H: Harness>(harness: &H) {
    let backend = harness.backend();
    let topic = unique("relays");
    let keys = 12;
    let per_key = 6;
    let mut envelopes = Vec::new();
    for n in 0..per_key {
        for k in 0..keys {
            envelopes.push(event(&topic, &format!("key{k}"), &format!("{n}")));
        }
    }
    for chunk in envelopes.chunks(9) {
        stage_committed(backend, chunk).await;
    }
    let mut published: HashMap<String, Vec<String>> = HashMap::new();
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 200, "relays made no progress");
        let request = |owner: &str| ClaimRequest::new(owner, 7, LEASE);
        let (one, two) = (request("one"), request("two"));
        let (a, b) = tokio::join!(backend.claim_batch(&one), backend.claim_batch(&two));
        let (a, b) = (a.expect("claim"), b.expect("claim"));
        if a.is_empty() && b.is_empty() {
            break;
        }
        let keys_a: std::collections::HashSet<&str> =
            a.iter().map(|r| r.envelope.key.as_str()).collect();
        for record in &b {
            assert!(
                !keys_a.contains(record.envelope.key.as_str()),
                "key {} leased to two relays at once",
                record.envelope.key
            );
        }
        for (owner, records) in [("one", &a), ("two", &b)] {
            for record in records.iter() {
                published
                    .entry(record.envelope.key.clone())
                    .or_default()
                    .push(label(record));
            }
            settle_all(backend, owner, Utc::now(), records, Outcome::Published).await;
        }
    }
    let expected: Vec<String> = (0..per_key).map(|n| n.to_string()).collect();
    assert_eq!(published.len(), keys);
    for (key, order) in &published {
        assert_eq!(order, &expected, "key {key} published out of order");
    }
}

/// Invariant 5: a message that keeps failing is dead-lettered with its last error, holds back
/// neither other keys nor (once dead) the later rows of its own key, and an operator can list,
/// retry and purge it.
pub async fn poison_goes_to_dead_letters<H: Harness>(harness: &H) {
    let backend = harness.backend();
    let topic = unique("poison");
    // More rows behind the poison than one claim takes: they must not crowd out other keys.
    let mut staged: Vec<Envelope> = (1..=5)
        .map(|n| event(&topic, "p", &format!("p{n}")))
        .collect();
    staged.push(event(&topic, "o", "o1"));
    stage_committed(backend, &staged).await;
    let t0 = Utc::now();
    let claimed = claim(backend, "relay", t0).await;
    assert_eq!(labels(&claimed), ["p1", "p2", "p3", "p4", "p5", "o1"]);
    let retry = Outcome::Retry {
        error: "attempt 1".to_owned(),
        at: at(t0, 600),
    };
    settle_all(backend, "relay", t0, &claimed[..1], retry).await;
    settle_all(backend, "relay", t0, &claimed[1..5], Outcome::Release).await;
    settle_all(backend, "relay", t0, &claimed[5..], Outcome::Published).await;
    stage_committed(backend, &[event(&topic, "o", "o2")]).await;
    let small = ClaimRequest::new("relay", 2, LEASE).at(at(t0, 1));
    let others = backend
        .claim_batch(&small)
        .await
        .expect("claim_batch failed");
    assert_eq!(
        labels(&others),
        ["o2"],
        "a failing key held back another key"
    );
    settle_all(backend, "relay", at(t0, 1), &others, Outcome::Published).await;

    let again = claim(backend, "relay", at(t0, 600)).await;
    assert_eq!(labels(&again), ["p1", "p2", "p3", "p4", "p5"]);
    let dead = Outcome::DeadLetter {
        error: "attempt 2: schema rejected".to_owned(),
    };
    settle_all(backend, "relay", at(t0, 600), &again[..1], dead.clone()).await;
    settle_all(backend, "relay", at(t0, 600), &again[1..], Outcome::Release).await;
    let after = claim(backend, "relay", at(t0, 601)).await;
    assert_eq!(
        labels(&after),
        ["p2", "p3", "p4", "p5"],
        "a dead letter blocked the rest of its key"
    );
    settle_all(backend, "relay", at(t0, 601), &after, Outcome::Published).await;

    let listed = backend
        .list_dead_letters(&DeadLetterQuery::first(10))
        .await
        .expect("list_dead_letters");
    assert_eq!(labels(&listed), ["p1"]);
    assert_eq!(listed[0].status, RecordStatus::Dead);
    assert_eq!(listed[0].attempts, 2);
    assert_eq!(
        listed[0].last_error.as_deref(),
        Some("attempt 2: schema rejected")
    );
    let next_page = backend
        .list_dead_letters(&DeadLetterQuery::first(10).after(listed[0].sequence))
        .await
        .expect("list_dead_letters");
    assert!(next_page.is_empty());
    assert_eq!(backend.stats().await.expect("stats").dead, 1);

    let retried = backend
        .retry_dead_letters(&ids(&listed), at(t0, 602))
        .await
        .expect("retry_dead_letters");
    assert_eq!(retried, 1);
    let back = claim(backend, "relay", at(t0, 602)).await;
    assert_eq!(
        labels(&back),
        ["p1"],
        "a retried dead letter did not come back"
    );
    assert_eq!(
        back[0].attempts, 0,
        "retrying a dead letter resets its attempts"
    );
    settle_all(backend, "relay", at(t0, 602), &back, dead).await;
    let purged = backend
        .purge_dead_letters(&ids(&back))
        .await
        .expect("purge_dead_letters");
    assert_eq!(purged, 1);
    let left = backend
        .list_dead_letters(&DeadLetterQuery::first(10))
        .await
        .expect("list_dead_letters");
    assert!(left.is_empty(), "purged dead letters are still listed");
}

/// Invariant 6: published rows (and inbox claims) older than the retention are purged in
/// batches of the given size; pending rows and newer rows are kept.
pub async fn retention_purges_in_batches<H: Harness>(harness: &H) {
    let backend = harness.backend();
    let topic = unique("retention");
    let envelopes: Vec<Envelope> = (0..5)
        .map(|n| event(&topic, &format!("k{n}"), "old"))
        .collect();
    stage_committed(backend, &envelopes).await;
    let t0 = Utc::now();
    let claimed = claim(backend, "relay", t0).await;
    settle_all(backend, "relay", t0, &claimed, Outcome::Published).await;
    stage_committed(backend, &[event(&topic, "k-pending", "pending")]).await;

    let purge = |before, limit| backend.purge_published(before, limit);
    assert_eq!(
        purge(at(t0, -1), 10).await.expect("purge"),
        0,
        "purged rows newer than the cutoff"
    );
    let batches = [
        purge(at(t0, 1), 2).await.expect("purge"),
        purge(at(t0, 1), 2).await.expect("purge"),
        purge(at(t0, 1), 2).await.expect("purge"),
        purge(at(t0, 1), 2).await.expect("purge"),
    ];
    assert_eq!(batches, [2, 2, 1, 0], "purge must respect the batch size");
    let stats = backend.stats().await.expect("stats");
    assert_eq!((stats.published, stats.pending), (0, 1), "{stats:?}");

    let consumer = unique("consumer");
    let incoming: Vec<Envelope> = (0..3)
        .map(|n| event(&topic, "k", &format!("in{n}")))
        .collect();
    for message in &incoming {
        let plan = WorkPlan::commit(&unique("m"), vec![])
            .handling(message)
            .as_consumer(&consumer);
        assert!(run(harness, plan).await.committed());
    }
    let purge_inbox = |limit| backend.purge_inbox(Utc::now() + chrono::Duration::minutes(1), limit);
    let inbox_batches = [
        purge_inbox(2).await.expect("purge_inbox"),
        purge_inbox(2).await.expect("purge_inbox"),
        purge_inbox(2).await.expect("purge_inbox"),
    ];
    assert_eq!(inbox_batches, [2, 1, 0]);
    let plan = WorkPlan::commit(&unique("m"), vec![])
        .handling(&incoming[0])
        .as_consumer(&consumer);
    assert!(
        run(harness, plan).await.committed(),
        "a purged inbox entry still counted as a duplicate"
    );
}

#[derive(serde::Serialize)]
struct Unserializable;

impl Message for Unserializable {
    fn message_type(&self) -> &str {
        "conformance.unserializable"
    }
    fn aggregate_id(&self) -> String {
        "k".to_owned()
    }
    fn topic(&self) -> Option<&str> {
        Some("conformance")
    }
    fn encode(&self) -> Result<crate::Payload> {
        // Map keys must be strings in JSON: this is how a real serializer fails.
        let map: HashMap<Vec<u8>, u8> = HashMap::from([(vec![1], 1)]);
        crate::Payload::json(&map).map_err(|e| Error::Serialization {
            message_type: self.message_type().to_owned(),
            source: Box::new(e),
        })
    }
}

/// Invariant 7: an oversized payload, an invalid topic or an empty key is refused with a clear
/// error at staging — by the unit of work and by the backend's own `stage` — while the rest of
/// the unit of work commits and loses nothing. A payload that does not serialize is refused
/// before it reaches the backend.
pub async fn bad_input_is_refused_and_loses_nothing<H: Harness>(harness: &H) {
    let backend = harness.backend();
    let topic = unique("bad");
    let limit = Limits::default().max_payload_bytes;
    let oversized = Envelope::new(
        &topic,
        "k",
        "big",
        "application/octet-stream",
        vec![0u8; limit + 1],
    );
    let bad_topic = event("no spaces allowed", "k", "bad-topic");
    let no_key = event(&topic, "", "no-key");
    let marker = unique("bad");
    let plan = WorkPlan::commit(
        &marker,
        vec![
            event(&topic, "k", "kept-1"),
            oversized.clone(),
            bad_topic.clone(),
            no_key.clone(),
            event(&topic, "k", "kept-2"),
        ],
    );
    let WorkOutcome::Committed(rejected) = run(harness, plan).await else {
        panic!("the valid part of the unit of work must commit");
    };
    assert!(
        matches!(rejected.as_slice(), [
            Error::PayloadTooLarge { size, limit: l },
            Error::InvalidTopic { .. },
            Error::InvalidMessage(_),
        ] if *size == limit + 1 && *l == limit),
        "unexpected rejections: {rejected:?}"
    );
    assert!(
        rejected[0].to_string().contains("exceeds the limit"),
        "{}",
        rejected[0]
    );
    assert_eq!(markers(harness, &marker).await, 1);
    assert_eq!(
        labels(&claim(backend, "relay", Utc::now()).await),
        ["kept-1", "kept-2"]
    );

    for bad in [oversized, bad_topic, no_key] {
        let mut tx = backend.begin().await.expect("begin");
        let refused = backend.stage(&mut tx, &[bad]).await;
        assert!(
            refused.as_ref().is_err_and(Error::is_invalid_input),
            "the backend's stage accepted bad input: {refused:?}"
        );
        backend.rollback(tx).await.expect("rollback");
    }

    let unserializable = EnvelopeFactory::default().envelope(&Unserializable, None);
    assert!(
        matches!(&unserializable, Err(Error::Serialization { message_type, .. }) if message_type == "conformance.unserializable"),
        "{unserializable:?}"
    );
}

type CaseFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// One case of the suite: its name and how to run it on a fresh harness.
pub struct Case<H> {
    /// The function's name.
    pub name: &'static str,
    run: for<'a> fn(&'a H) -> CaseFuture<'a>,
}

impl<H> std::fmt::Debug for Case<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        vec![$(Case { name: stringify!($name), run: |h| Box::pin($name(h)) }),*]
    };
}

/// Every case of the suite, in the order [`run_suite`] runs them.
pub fn cases<H: Harness>() -> Vec<Case<H>> {
    cases![
        atomic_outbox_commit,
        atomic_outbox_rollback_on_error,
        atomic_outbox_rollback_on_panic,
        inbox_duplicate_sequential,
        inbox_duplicate_concurrent,
        late_commit_is_not_lost,
        leases_expire_and_failures_come_back,
        order_per_key,
        live_leases_are_not_taken_over,
        key_shares_split_keys_between_workers,
        a_held_key_with_a_long_backlog_starves_nobody,
        concurrent_relays_keep_order_per_key,
        sequences_follow_commit_order_when_another_clock_runs_ahead,
        poison_goes_to_dead_letters,
        retention_purges_in_batches,
        bad_input_is_refused_and_loses_nothing,
    ]
}

/// Runs every case on a fresh harness from `fresh`, prints one line per case and panics at the
/// end naming every case that failed (a failing case does not hide the others).
pub async fn run_suite<H, F, Fut>(fresh: F)
where
    H: Harness,
    F: Fn() -> Fut,
    Fut: Future<Output = H>,
{
    let mut failed = Vec::new();
    let cases = cases::<H>();
    for case in &cases {
        let harness = fresh().await;
        let outcome =
            futures_util::FutureExt::catch_unwind(AssertUnwindSafe((case.run)(&harness))).await;
        match outcome {
            Ok(()) => println!("conformance {} ... ok", case.name),
            Err(_) => {
                println!("conformance {} ... FAILED", case.name);
                failed.push(case.name);
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} conformance cases failed: {}",
        failed.len(),
        cases.len(),
        failed.join(", ")
    );
}
