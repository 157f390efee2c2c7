//! `tidings relay`: the relay daemon.

use std::{sync::Arc, time::Duration};

use metrics_exporter_prometheus::PrometheusBuilder;
use tidings::{
    RetryPolicy,
    relay::{Relay, RelayConfig},
};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{
    broker::Broker,
    config::Settings,
    error::CliError,
    http::{self, Served},
    outbox::Outbox,
    with_backend,
};

/// The library's relay configuration from the settings.
pub fn relay_config(settings: &Settings) -> RelayConfig {
    let relay = &settings.relay;
    let mut retry = RetryPolicy::default()
        .with_max_attempts(relay.retry.max_attempts)
        .with_delays(relay.retry.initial_delay, relay.retry.max_delay);
    retry.multiplier = relay.retry.multiplier;
    let mut config = RelayConfig::default()
        .with_workers(relay.workers)
        .with_batch_size(relay.batch_size)
        .with_lease(relay.lease)
        .with_poll_interval(relay.poll_interval)
        .with_retry(retry)
        .with_retention(relay.retention)
        .with_maintenance_interval(relay.maintenance_interval)
        .with_queue_depth_interval(relay.queue_depth_interval);
    config.purge_batch = relay.purge_batch;
    if let Some(owner) = &relay.owner {
        config = config.with_owner(owner);
    }
    config
}

/// Relays the configured outbox to the configured broker until SIGTERM or SIGINT: then it
/// stops claiming and finishes the batch in hand; a second signal exits at once.
pub async fn run(settings: Settings) -> Result<(), CliError> {
    let url = settings.outbox.clone().unwrap_or_else(default_outbox);
    let outbox = Outbox::open(&url, &settings).await?;
    if settings.relay.migrate {
        outbox
            .migrate()
            .await
            .map_err(CliError::tidings("migrating the outbox"))?;
    }
    let broker = Broker::of(&settings)?;
    let publisher = broker.publisher(&settings)?;
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| CliError::Config(format!("cannot install the metrics recorder: {e}")))?;
    let shutdown = CancellationToken::new();
    let settings = Arc::new(settings);
    let listener = match &settings.http {
        Some(address) => {
            let served = Served {
                metrics,
                outbox: outbox.clone(),
                broker: broker.clone(),
                settings: Arc::clone(&settings),
            };
            Some(http::serve(address, served, shutdown.clone()).await?)
        }
        None => None,
    };
    tokio::spawn(stop_on_signals(shutdown.clone()));
    let config = relay_config(&settings);
    info!(outbox = %crate::outbox::redacted(&url), broker = %broker.describe(), "relaying");
    with_backend!(&outbox, backend => {
        Relay::new(backend.clone(), Arc::clone(&publisher), config)
            .run(shutdown.clone())
            .await;
    });
    shutdown.cancel();
    if let Some(listener) = listener {
        let _ = tokio::time::timeout(Duration::from_secs(5), listener).await;
    }
    Ok(())
}

/// The embedded default: a SQLite file in the working directory.
pub fn default_outbox() -> String {
    "sqlite://tidings.db".to_owned()
}

/// The first SIGTERM or SIGINT cancels `shutdown`; the second exits the process.
async fn stop_on_signals(shutdown: CancellationToken) {
    if let Err(error) = signal().await {
        warn!(%error, "cannot listen for signals; stop the relay with SIGKILL");
        return;
    }
    info!("stopping: no new claims; finishing the batch in hand");
    shutdown.cancel();
    if signal().await.is_ok() {
        warn!("second signal: exiting now");
        std::process::exit(130);
    }
}

async fn signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => Ok(()),
        interrupted = tokio::signal::ctrl_c() => interrupted,
    }
}
