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

    async fn reconnect(&self) -> Result<Self> {
        Ok(self.clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite() {
    conformance::run_suite(async || {
        ConformanceHarness::new(MemoryBackend::new(), Capabilities::full())
    })
    .await;
}

/// The persistent publisher's rules with the in-memory store and broker (the real stores run
/// them in `tests/tests/persistent_publisher.rs`).
#[tokio::test]
async fn persistent_publisher_suite() {
    tidings_core::conformance::persistent::run_suite(
        async || crate::MemoryEventStore::new(),
        crate::MemoryBroker::new(),
    )
    .await;
}
