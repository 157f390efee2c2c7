//! The relay settings HuleEdu's users know by name: a separate, longer wait after a failed
//! batch (checked on tokio's paused clock, so no test waits), and metrics switched off.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tidings_core::{Envelope, Error, OutboxRepository, mock::MockBackend};
use tidings_memory::{MemoryBackend, MemoryBroker};
use tidings_relay::{Relay, RelayConfig};
use tokio_util::sync::CancellationToken;

/// How many claims a relay whose every claim fails makes in `window` of paused time.
async fn claims_while_failing(config: RelayConfig, window: Duration) -> usize {
    let claims = Arc::new(AtomicUsize::new(0));
    let mut outbox = MockBackend::new();
    let counted = Arc::clone(&claims);
    outbox.expect_claim_batch().returning(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err(Error::unavailable("database down")) })
    });
    outbox.expect_subscribe().returning(|| None);
    outbox
        .expect_stats()
        .returning(|| Box::pin(async { Err(Error::unavailable("database down")) }));
    outbox
        .expect_purge_published()
        .returning(|_, _| Box::pin(async { Ok(0) }));
    let relay = Relay::new(outbox, MemoryBroker::new(), config.with_workers(1));
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { relay.run(shutdown).await }
    });
    tokio::time::sleep(window).await;
    shutdown.cancel();
    running.await.expect("relay task");
    claims.load(Ordering::SeqCst)
}

#[tokio::test(start_paused = true)]
async fn after_a_failed_batch_the_relay_waits_the_error_retry_interval() {
    let polling = RelayConfig::default().with_poll_interval(Duration::from_millis(10));
    let resting = claims_while_failing(
        polling
            .clone()
            .with_error_retry_interval(Duration::from_secs(1)),
        Duration::from_millis(3_500),
    )
    .await;
    assert_eq!(resting, 4, "tries at 0, 1, 2 and 3 s");
    let eager = claims_while_failing(
        polling.with_error_retry_interval(Duration::from_millis(10)),
        Duration::from_millis(3_500),
    )
    .await;
    assert!(
        eager > 300,
        "a 10 ms rest tries about 350 times, made {eager}"
    );
}

fn event(n: usize) -> Envelope {
    let body = format!("{{\"n\":{n}}}");
    Envelope::new(
        "orders",
        "k",
        "order.placed",
        "application/json",
        body.into_bytes(),
    )
}

/// What a relay with `config` records while it drains two events, under a recorder of its own.
fn scrape_of_a_drain(config: RelayConfig) -> String {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let scrape = recorder.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let backend = MemoryBackend::new();
            let mut transaction = tidings_core::Transactional::begin(&backend)
                .await
                .expect("begin");
            backend
                .stage(&mut transaction, &[event(1), event(2)])
                .await
                .expect("stage");
            tidings_core::Transactional::commit(&backend, transaction)
                .await
                .expect("commit");
            let relay = Relay::new(backend, MemoryBroker::new(), config);
            assert_eq!(relay.drain().await.expect("drain").total.published, 2);
        });
    });
    scrape.render()
}

#[test]
fn a_relay_with_metrics_off_records_none() {
    let on = scrape_of_a_drain(RelayConfig::default());
    assert!(on.contains("outbox_events_published_total 2"), "{on}");
    let off = scrape_of_a_drain(RelayConfig::default().with_metrics(false));
    assert!(!off.contains("outbox_"), "{off}");
}
