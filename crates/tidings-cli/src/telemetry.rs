//! Logs and traces. Log lines go to standard error (standard output carries the `stdout`
//! sink's events): for people, coloured on a terminal, or one JSON object per line; `RUST_LOG`
//! filters them (default `info`). With `tracing.otlp_endpoint` (build feature `otlp`), spans
//! are exported over OTLP/HTTP and trace context is carried across the outbox.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

use crate::{
    config::{LogFormat, Settings},
    error::CliError,
};

/// What has to be flushed before the process exits.
#[derive(Debug, Default)]
pub struct Telemetry {
    #[cfg(feature = "otlp")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still buffered. Call it outside the async runtime.
    pub fn shutdown(self) {
        #[cfg(feature = "otlp")]
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown()
        {
            eprintln!("tidings: exporting the last spans failed: {error}");
        }
    }
}

/// Installs the log subscriber and, when configured, the OTLP exporter (a setting this build
/// cannot honour is an error).
pub fn init(settings: &Settings) -> Result<Telemetry, CliError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = match settings.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Human => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let registry = tracing_subscriber::registry().with(filter).with(lines);
    #[cfg(feature = "otlp")]
    {
        let (layer, provider) = match otlp(settings)? {
            Some((layer, provider)) => (Some(layer), Some(provider)),
            None => (None, None),
        };
        let _ = registry.with(layer).try_init();
        Ok(Telemetry { provider })
    }
    #[cfg(not(feature = "otlp"))]
    {
        if settings.tracing.otlp_endpoint.is_some() {
            return Err(CliError::Config(
                "tracing.otlp_endpoint is set, but this build has no OTLP export (build \
                 tidings-cli with --features otlp)"
                    .to_owned(),
            ));
        }
        let _ = registry.try_init();
        Ok(Telemetry::default())
    }
}

/// The layer that turns `tracing` spans into OpenTelemetry spans, over subscriber `S`.
#[cfg(feature = "otlp")]
type OtelLayer<S> = tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>;

/// The OpenTelemetry layer and its provider, exporting to the configured endpoint.
#[cfg(feature = "otlp")]
fn otlp<S>(
    settings: &Settings,
) -> Result<Option<(OtelLayer<S>, opentelemetry_sdk::trace::SdkTracerProvider)>, CliError>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::WithExportConfig;

    let Some(endpoint) = &settings.tracing.otlp_endpoint else {
        return Ok(None);
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| CliError::Config(format!("tracing.otlp_endpoint {endpoint:?}: {e}")))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(settings.tracing.service_name.clone())
        .build();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("tidings"));
    tidings::otel::install();
    Ok(Some((layer, provider)))
}
