//! Trace context across the outbox. Tidings itself does not depend on OpenTelemetry: a
//! [`Propagator`] installed once per process (the `tidings-otel` crate has one over
//! `tracing-opentelemetry`) gives the W3C `traceparent` of the current span, which is stored
//! with each staged event, and makes a span a child of a stored `traceparent`, which the relay
//! does for each event's publish span and the unit of work for a handled event's span. Without
//! one, events carry the `traceparent` of the [`context`](crate::context) only, and the relay
//! makes no per-event spans.

use std::sync::OnceLock;

/// Reads and adopts W3C trace context for `tracing` spans.
pub trait Propagator: Send + Sync + 'static {
    /// The `traceparent` of the current span, when it belongs to a trace.
    fn current(&self) -> Option<String>;

    /// Makes `span` a child of the span `traceparent` names (a malformed one is ignored).
    fn adopt(&self, span: &tracing::Span, traceparent: &str);
}

static PROPAGATOR: OnceLock<Box<dyn Propagator>> = OnceLock::new();

/// Installs `propagator` for the process; `false` if one was installed before (that one stays).
pub fn install(propagator: impl Propagator) -> bool {
    PROPAGATOR.set(Box::new(propagator)).is_ok()
}

/// Whether a propagator is installed.
pub fn enabled() -> bool {
    PROPAGATOR.get().is_some()
}

/// The `traceparent` of the current span, if a propagator is installed and the span is traced.
pub fn current_traceparent() -> Option<String> {
    PROPAGATOR.get()?.current()
}

/// Makes `span` a child of `traceparent`, if both a propagator and a `traceparent` are there.
pub fn adopt(span: &tracing::Span, traceparent: Option<&str>) {
    if let (Some(propagator), Some(traceparent)) = (PROPAGATOR.get(), traceparent) {
        propagator.adopt(span, traceparent);
    }
}
