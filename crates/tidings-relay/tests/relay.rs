//! The relay's own behaviour — ordering under failures, backoff, dead-lettering, wake-ups,
//! shutdown and retention — against the in-memory backend and broker. How each backend claims
//! and settles rows is covered by the conformance suite; this covers what the relay decides.

use std::{sync::Arc, time::Duration};

use tidings_core::{
    DeadLetterQuery, DeadLetterRepository, Envelope, Error, OutboxRepository, RetryPolicy,
    Transactional,
};
use tidings_memory::{MemoryBackend, MemoryBroker};
use tidings_relay::{Relay, RelayConfig};
use tokio_util::sync::CancellationToken;

fn event(topic: &str, key: &str, n: usize) -> Envelope {
    Envelope::new(
        topic,
        key,
        "test.event",
        "text/plain",
        n.to_string().into_bytes(),
    )
}

async fn stage(backend: &MemoryBackend, envelopes: &[Envelope]) {
    let mut tx = backend.begin().await.expect("begin");
    backend.stage(&mut tx, envelopes).await.expect("stage");
    backend.commit(tx).await.expect("commit");
    backend.after_commit();
}

/// Payloads on `topic` per key, in broker order.
fn delivered(broker: &MemoryBroker, topic: &str, key: &str) -> Vec<String> {
    broker
        .envelopes(topic)
        .expect("decodable records")
        .into_iter()
        .filter(|e| e.key == key)
        .map(|e| String::from_utf8(e.payload).expect("text payload"))
        .collect()
}

fn immediate_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(max_attempts)
        .with_delays(Duration::ZERO, Duration::ZERO)
}

#[tokio::test]
async fn delivers_every_event_in_order_per_key_in_small_batches() {
    let (backend, broker) = (MemoryBackend::new(), MemoryBroker::new());
    let mut envelopes = Vec::new();
    for n in 0..50 {
        envelopes.push(event("orders", &format!("k{}", n % 4), n));
    }
    stage(&backend, &envelopes).await;
    let relay = Relay::new(
        backend.clone(),
        broker.clone(),
        RelayConfig::default().with_batch_size(7),
    );
    let report = relay.drain().await.expect("drain");
    assert_eq!(report.total.published, 50);
    assert_eq!(report.batches, 8);
    for k in 0..4 {
        let expected: Vec<String> = (0..50)
            .filter(|n| n % 4 == k)
            .map(|n| n.to_string())
            .collect();
        assert_eq!(delivered(&broker, "orders", &format!("k{k}")), expected);
    }
    assert_eq!(backend.stats().await.expect("stats").published, 50);
}

#[tokio::test]
async fn a_failing_key_is_retried_then_dead_lettered_without_blocking_others() {
    let (backend, broker) = (MemoryBackend::new(), MemoryBroker::new());
    stage(
        &backend,
        &[
            event("t", "bad", 1),
            event("t", "good", 2),
            event("t", "bad", 3),
        ],
    )
    .await;
    broker.set_fault(Some(Arc::new(|e: &Envelope| {
        (e.key == "bad" && e.payload == b"1").then(|| "rejected by test".to_owned())
    })));
    let relay = Relay::new(
        backend.clone(),
        broker.clone(),
        RelayConfig::default().with_retry(immediate_retries(3)),
    );

    let first = relay.run_once().await.expect("batch");
    assert_eq!((first.published, first.retried, first.released), (1, 1, 1));
    assert_eq!(delivered(&broker, "t", "good"), ["2"]);
    assert!(
        delivered(&broker, "t", "bad").is_empty(),
        "bad/3 overtook bad/1"
    );

    let second = relay.run_once().await.expect("batch");
    assert_eq!((second.retried, second.released), (1, 1));
    let third = relay.run_once().await.expect("batch");
    assert_eq!((third.dead_lettered, third.released), (1, 1));
    let after = relay.drain().await.expect("drain");
    assert_eq!(
        after.total.published, 1,
        "the rest of the key flows after its dead letter"
    );
    assert_eq!(delivered(&broker, "t", "bad"), ["3"]);

    let dead = backend
        .list_dead_letters(&DeadLetterQuery::first(10))
        .await
        .expect("list");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 3);
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("rejected by test"))
    );
}

#[tokio::test]
async fn failed_events_wait_for_their_backoff() {
    let (backend, broker) = (MemoryBackend::new(), MemoryBroker::new());
    stage(&backend, &[event("t", "k", 1)]).await;
    broker.set_fault(Some(Arc::new(|_: &Envelope| Some("down".to_owned()))));
    let retry = RetryPolicy::default()
        .with_delays(Duration::from_secs(3600), Duration::from_secs(3600))
        .with_jitter(0.0);
    let relay = Relay::new(
        backend.clone(),
        broker.clone(),
        RelayConfig::default().with_retry(retry),
    );
    assert_eq!(relay.run_once().await.expect("batch").retried, 1);
    broker.set_fault(None);
    let meanwhile = relay.drain().await.expect("drain");
    assert_eq!(
        meanwhile.total.claimed, 0,
        "a failed event came back before its backoff"
    );
    assert_eq!(
        backend.stats().await.expect("stats").pending,
        1,
        "the event must stay pending"
    );
}

#[tokio::test]
async fn input_the_broker_can_never_take_is_dead_lettered_at_once() {
    #[derive(Clone)]
    struct Refusing;
    impl tidings_core::EventPublisher for Refusing {
        async fn publish_batch(&self, envelopes: &[Envelope]) -> Vec<tidings_core::Result<()>> {
            envelopes
                .iter()
                .map(|e| {
                    Err(Error::PayloadTooLarge {
                        size: e.payload.len(),
                        limit: 0,
                    })
                })
                .collect()
        }
    }
    let backend = MemoryBackend::new();
    stage(&backend, &[event("t", "k", 1)]).await;
    let relay = Relay::new(backend.clone(), Refusing, RelayConfig::default());
    let report = relay.run_once().await.expect("batch");
    assert_eq!(report.dead_lettered, 1);
    assert_eq!(backend.stats().await.expect("stats").dead, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wakes_on_commit_notifications_and_stops_gracefully() {
    let (backend, broker) = (MemoryBackend::new(), MemoryBroker::new());
    // Polling so slow that only a notification can explain a prompt delivery.
    let config = RelayConfig::default().with_poll_interval(Duration::from_secs(3600));
    let relay = Arc::new(Relay::new(backend.clone(), broker.clone(), config));
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let (relay, shutdown) = (Arc::clone(&relay), shutdown.clone());
        async move { relay.run(shutdown).await }
    });
    let mut arrivals = broker.subscribe();
    // The first event may be caught by the relay's first claim; the second is staged after
    // that claim, so only a notification can bring it before the hour-long poll.
    for n in 1..=2 {
        stage(&backend, &[event("t", "k", n)]).await;
        tokio::time::timeout(Duration::from_secs(10), async {
            while broker.records("t").len() < n {
                arrivals.notified().await;
            }
        })
        .await
        .expect("the relay did not wake on the commit notification");
    }

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the relay did not stop")
        .expect("relay task");
    let stats = backend.stats().await.expect("stats");
    assert_eq!((stats.published, stats.leased), (2, 0));
}

#[tokio::test]
async fn maintenance_purges_published_rows_after_the_retention() {
    let (backend, broker) = (MemoryBackend::new(), MemoryBroker::new());
    stage(
        &backend,
        &(0..5).map(|n| event("t", "k", n)).collect::<Vec<_>>(),
    )
    .await;
    let keep = Relay::new(backend.clone(), broker.clone(), RelayConfig::default());
    keep.drain().await.expect("drain");
    assert_eq!(
        keep.maintain().await.expect("maintain"),
        0,
        "rows within the retention were purged"
    );
    let purge = Relay::new(
        backend.clone(),
        broker.clone(),
        RelayConfig::default().with_retention(Some(Duration::ZERO)),
    );
    assert_eq!(purge.maintain().await.expect("maintain"), 5);
    assert_eq!(backend.stats().await.expect("stats").published, 0);
}
