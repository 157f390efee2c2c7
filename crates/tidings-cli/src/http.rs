//! The daemon's HTTP listener: `/metrics` (Prometheus text format), `/health` (the process is
//! up) and `/ready` (the outbox and the broker answer; 503 with the reason otherwise).

use std::{sync::Arc, time::Duration};

use axum::{Router, extract::State, http::StatusCode, routing::get};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;

use crate::{broker::Broker, config::Settings, error::CliError, outbox::Outbox};

/// How long a readiness probe waits for each of the outbox and the broker.
const PROBE: Duration = Duration::from_secs(2);

/// What the listener serves from.
#[derive(Clone)]
pub struct Served {
    /// The metrics recorder's handle.
    pub metrics: PrometheusHandle,
    /// The outbox to probe.
    pub outbox: Outbox,
    /// The broker to probe.
    pub broker: Broker,
    /// The configuration (Kafka's security settings for the probe).
    pub settings: Arc<Settings>,
}

/// Binds `address` and serves until `shutdown`; binding fails at once, with the address named.
pub async fn serve(
    address: &str,
    served: Served,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, CliError> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(CliError::io(format!("listening on {address}")))?;
    tracing::info!(address = %listener.local_addr().map_or_else(|_| address.to_owned(), |a| a.to_string()), "serving /metrics, /health and /ready");
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(served);
    Ok(tokio::spawn(async move {
        let stopped = shutdown.cancelled_owned();
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::warn!(%error, "the HTTP listener stopped");
        }
    }))
}

async fn metrics(State(served): State<Served>) -> String {
    served.metrics.render()
}

async fn health() -> &'static str {
    "ok\n"
}

async fn ready(State(served): State<Served>) -> (StatusCode, String) {
    let outbox = tokio::time::timeout(PROBE, served.outbox.ping()).await;
    match outbox {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return unready(format!("outbox: {error}")),
        Err(_) => return unready(format!("outbox: no answer within {PROBE:?}")),
    }
    match served.broker.ping(&served.settings, PROBE).await {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(error) => unready(format!("broker: {error}")),
    }
}

fn unready(reason: String) -> (StatusCode, String) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("not ready: {reason}\n"),
    )
}
