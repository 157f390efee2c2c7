//! What the cases share: events labelled in their payload, claims and settlements with the
//! clock passed in, units of work run through the real [`UnitOfWork`](tidings_uow::UnitOfWork).

pub(crate) use std::time::Duration;

pub(crate) use chrono::{DateTime, Utc};
// Traits brought in for their methods through the cases' glob import, which rustc does not
// count as uses of this re-export.
#[allow(unused_imports)]
pub(crate) use tidings_core::{
    ClaimRequest, DeadLetterQuery, DeadLetterRepository, Envelope, EnvelopeFactory, Error,
    InboxRepository, Limits, Message, MessageId, OutboxRecord, OutboxRepository, Outcome,
    RecordStatus, Result, Settlement, Transactional,
};

pub(crate) use crate::{
    env::unique,
    store::{Ending, MarkerStore, WorkOutcome, WorkPlan, run_plan},
};

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

pub(crate) fn label(record: &OutboxRecord) -> String {
    serde_json::from_slice::<serde_json::Value>(&record.envelope.payload)
        .ok()
        .and_then(|v| v["label"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub(crate) fn labels(records: &[OutboxRecord]) -> Vec<String> {
    records.iter().map(label).collect()
}

pub(crate) fn ids(records: &[OutboxRecord]) -> Vec<MessageId> {
    records.iter().map(|r| r.envelope.id.clone()).collect()
}

pub(crate) fn at(base: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    base + chrono::Duration::seconds(seconds)
}

pub(crate) const LEASE: Duration = Duration::from_secs(30);

pub(crate) async fn claim<B: OutboxRepository>(
    backend: &B,
    owner: &str,
    now: DateTime<Utc>,
) -> Vec<OutboxRecord> {
    backend
        .claim_batch(&ClaimRequest::new(owner, 1000, LEASE).at(now))
        .await
        .expect("claim_batch failed")
}

pub(crate) async fn settle_all<B: OutboxRepository>(
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

pub(crate) async fn run<B: MarkerStore>(store: &B, plan: WorkPlan) -> WorkOutcome {
    run_plan(store, plan)
        .await
        .expect("the unit of work failed")
}

pub(crate) async fn markers<B: MarkerStore>(store: &B, marker: &str) -> u64 {
    store
        .count_markers(marker)
        .await
        .expect("count_markers failed")
}

pub(crate) async fn stage_committed<B: OutboxRepository>(backend: &B, envelopes: &[Envelope]) {
    let mut tx = backend.begin().await.expect("begin");
    backend.stage(&mut tx, envelopes).await.expect("stage");
    backend.commit(tx).await.expect("commit");
}
