//! The shared conformance suite, run against the in-memory backend.

use tidings_core::{
    MessageId, Result,
    conformance::{self, Capabilities, MarkerStore},
};
use tidings_uow::ConformanceHarness;

use crate::{MemoryBackend, MemoryTransaction};

const MARKERS: &str = "conformance_markers";

impl MarkerStore for MemoryBackend {
    async fn write_marker(&self, transaction: &mut MemoryTransaction, marker: &str) -> Result<()> {
        transaction.insert(MARKERS, MessageId::new().to_string(), marker);
        Ok(())
    }

    async fn count_markers(&self, marker: &str) -> Result<u64> {
        let state = self.state();
        Ok(state
            .tables
            .get(MARKERS)
            .map_or(0, |t| t.values().filter(|v| *v == marker).count()) as u64)
    }
}

fn harness() -> ConformanceHarness<MemoryBackend> {
    ConformanceHarness::new(MemoryBackend::new(), Capabilities::full())
}

#[tokio::test]
async fn atomic_outbox_commit() {
    conformance::atomic_outbox_commit(&harness()).await;
}

#[tokio::test]
async fn atomic_outbox_rollback_on_error() {
    conformance::atomic_outbox_rollback_on_error(&harness()).await;
}

#[tokio::test]
async fn atomic_outbox_rollback_on_panic() {
    conformance::atomic_outbox_rollback_on_panic(&harness()).await;
}

#[tokio::test]
async fn inbox_duplicate_sequential() {
    conformance::inbox_duplicate_sequential(&harness()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_duplicate_concurrent() {
    let one = harness();
    conformance::inbox_duplicate_concurrent(&one, &one.clone()).await;
}

#[tokio::test]
async fn late_commit_is_not_lost() {
    conformance::late_commit_is_not_lost(&harness()).await;
}

#[tokio::test]
async fn leases_expire_and_failures_come_back() {
    conformance::leases_expire_and_failures_come_back(&harness()).await;
}

#[tokio::test]
async fn order_per_key() {
    conformance::order_per_key(&harness()).await;
}

#[tokio::test]
async fn live_leases_are_not_taken_over() {
    conformance::live_leases_are_not_taken_over(&harness()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_relays_keep_order_per_key() {
    conformance::concurrent_relays_keep_order_per_key(&harness()).await;
}

#[tokio::test]
async fn poison_goes_to_dead_letters() {
    conformance::poison_goes_to_dead_letters(&harness()).await;
}

#[tokio::test]
async fn retention_purges_in_batches() {
    conformance::retention_purges_in_batches(&harness()).await;
}

#[tokio::test]
async fn bad_input_is_refused_and_loses_nothing() {
    conformance::bad_input_is_refused_and_loses_nothing(&harness()).await;
}
