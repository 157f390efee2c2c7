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
        .with_error_retry_interval(relay.error_retry_interval)
        .with_metrics(relay.metrics)
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
/// stops claiming and finishes the batch in hand; a second signal exits at once. A signal that
/// comes while it is still connecting ends it there, with success: it holds nothing yet.
pub async fn run(settings: Settings) -> Result<(), CliError> {
    // Listening starts before anything else, so no signal finds the default action (death).
    let signals = Signals::listen().map_err(CliError::io("listening for SIGTERM and SIGINT"))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signals(signals, shutdown.clone()));
    let started = tokio::select! {
        biased;
        () = shutdown.cancelled() => None,
        started = start(settings, &shutdown) => Some(started?),
    };
    let Some(Started {
        outbox,
        publisher,
        listener,
        settings,
        url,
        broker,
    }) = started
    else {
        info!("stopped before the relay started");
        return Ok(());
    };
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

/// What the relay runs with, once connected.
struct Started {
    outbox: Outbox,
    publisher: Arc<dyn tidings::DynEventPublisher>,
    listener: Option<tokio::task::JoinHandle<()>>,
    settings: Arc<Settings>,
    url: String,
    broker: Broker,
}

/// Opens the outbox (migrating it if asked), the broker and the HTTP listener.
async fn start(settings: Settings, shutdown: &CancellationToken) -> Result<Started, CliError> {
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
    Ok(Started {
        outbox,
        publisher,
        listener,
        settings,
        url,
        broker,
    })
}

/// The embedded default: a SQLite file in the working directory.
pub fn default_outbox() -> String {
    "sqlite://tidings.db".to_owned()
}

/// The first SIGTERM or SIGINT cancels `shutdown`; the second exits the process.
async fn stop_on_signals(mut signals: Signals, shutdown: CancellationToken) {
    signals.next().await;
    info!("stopping: no new claims; finishing the batch in hand");
    shutdown.cancel();
    signals.next().await;
    warn!("second signal: exiting now");
    std::process::exit(130);
}

/// SIGTERM and SIGINT, listened for from the moment this is made.
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
    }
}
