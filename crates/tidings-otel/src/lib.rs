//! OpenTelemetry for Tidings. [`install`] puts a `tidings_core::trace::Propagator` over
//! `tracing-opentelemetry` in place: each staged event stores the W3C `traceparent` of the
//! span that staged it (`tidings.stage`, or `tidings.consume` for events staged while handling
//! one), the relay's `tidings.publish` span of each event and the consumer's `tidings.consume`
//! span are its children, so one trace runs from the request that staged an event through the
//! relay to every consumer and on.
//!
//! The application sets up its own `tracing-opentelemetry` layer and exporter (OTLP, say);
//! this crate only carries the context across the outbox.
//!
//! ```
//! // Once, at start, beside the tracing subscriber with its OpenTelemetry layer:
//! tidings_otel::install();
//! ```

use std::collections::HashMap;

use opentelemetry::{propagation::TextMapPropagator, trace::TraceContextExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tidings_core::trace::Propagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The W3C header this propagator reads and writes.
const TRACEPARENT: &str = "traceparent";

/// Installs the OpenTelemetry propagator for the process; `false` if a propagator was
/// installed before (that one stays).
pub fn install() -> bool {
    tidings_core::trace::install(OpenTelemetryPropagator)
}

/// W3C trace context of `tracing` spans through `tracing-opentelemetry`.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenTelemetryPropagator;

impl Propagator for OpenTelemetryPropagator {
    fn current(&self) -> Option<String> {
        let context = tracing::Span::current().context();
        if !context.span().span_context().is_valid() {
            return None;
        }
        let mut carrier: HashMap<String, String> = HashMap::new();
        TraceContextPropagator::new().inject_context(&context, &mut carrier);
        carrier.remove(TRACEPARENT)
    }

    fn adopt(&self, span: &tracing::Span, traceparent: &str) {
        let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
        let parent = TraceContextPropagator::new().extract(&carrier);
        if parent.span().span_context().is_valid() {
            // A span already closed, or no OpenTelemetry layer: nothing to adopt into.
            let _ = span.set_parent(parent);
        }
    }
}
