//! The shared suites against the in-memory adapters: the conformance suite on a fresh
//! [`MemoryBackend`], the persistent publisher's suite with [`MemoryEventStore`], and the
//! publisher contract on a [`MemoryBroker`]. Each case is a named test:
//! `cargo test -p tidings-memory --test conformance order_per_key`.

use std::process::ExitCode;

use tidings_core::{Envelope, MessageId, Result};
use tidings_memory::{MemoryBackend, MemoryBroker, MemoryEventStore, MemoryTransaction};
use tidings_testkit::{Capabilities, MarkerStore, PublisherUnderTest, Suite, unique};

/// Markers live in a table per marker, so counting one is counting a table.
fn marker_table(marker: &str) -> String {
    format!("conformance_markers:{marker}")
}

#[derive(Clone)]
struct Memory(MemoryBackend);

impl MarkerStore for Memory {
    type Backend = MemoryBackend;

    fn backend(&self) -> &MemoryBackend {
        &self.0
    }

    fn capabilities() -> Capabilities {
        Capabilities::new()
    }

    async fn write_marker(&self, transaction: &mut MemoryTransaction, marker: &str) -> Result<()> {
        transaction.insert(marker_table(marker), MessageId::new().to_string(), marker);
        Ok(())
    }

    async fn count_markers(&self, marker: &str) -> Result<u64> {
        Ok(self.0.count(&marker_table(marker)) as u64)
    }

    async fn reconnect(&self) -> Result<Self> {
        Ok(self.clone())
    }
}

/// The broker under the publisher contract.
struct Broker(MemoryBroker);

impl PublisherUnderTest for Broker {
    type Publisher = MemoryBroker;

    fn publisher(&self) -> &MemoryBroker {
        &self.0
    }

    async fn topic(&self, _partitions: i32) -> String {
        unique("contract")
    }

    async fn read(&self, topic: &str, count: usize) -> Vec<Envelope> {
        let mut envelopes = self.0.envelopes(topic).expect("decodable records");
        assert!(
            envelopes.len() >= count,
            "{topic} holds {} events, not {count}",
            envelopes.len()
        );
        envelopes.truncate(count);
        envelopes
    }

    fn max_payload_bytes(&self) -> usize {
        self.0.max_message_bytes()
    }
}

fn main() -> ExitCode {
    Suite::new()
        .conformance(|| async { Memory(MemoryBackend::new()) })
        .persistent(
            || async { (MemoryEventStore::new(), MemoryBroker::new()) },
            |_, _| async {},
        )
        .publisher(|| async { Broker(MemoryBroker::new()) })
        .run()
}
