//! One trace across the outbox: a request stages an event, the relay publishes it, a consumer
//! handles it and stages another; with an in-memory span exporter, every span is in the
//! request's trace, the publish and the handling are children of the staging, and the event
//! staged while handling carries the handling span.

use opentelemetry::trace::{SpanId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde::Serialize;
use tidings_core::Message;
use tidings_memory::{MemoryBackend, MemoryBroker};
use tidings_relay::{Relay, RelayConfig};
use tidings_uow::UnitOfWork;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Serialize)]
struct OrderPlaced {
    order: String,
}

impl Message for OrderPlaced {
    fn message_type(&self) -> &str {
        "shop.order_placed"
    }
    fn aggregate_id(&self) -> String {
        self.order.clone()
    }
    fn topic(&self) -> Option<&str> {
        Some("orders")
    }
}

fn span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name} among {:?}", names(spans)))
}

fn names(spans: &[SpanData]) -> Vec<&str> {
    spans.iter().map(|s| s.name.as_ref()).collect()
}

#[tokio::test]
async fn stage_relay_and_consume_share_one_trace() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    assert!(tidings_otel::install());

    let backend = MemoryBackend::new();
    let uow = UnitOfWork::new(backend.clone());
    let order = OrderPlaced {
        order: "o-1".to_owned(),
    };
    uow.run(async |work| work.stage(&order))
        .instrument(tracing::info_span!("request"))
        .await
        .expect("stage");
    let broker = MemoryBroker::new();
    Relay::new(backend.clone(), broker.clone(), RelayConfig::default())
        .drain()
        .await
        .expect("drain");
    let delivered = broker.envelopes("orders").expect("envelopes");
    let consumer = UnitOfWork::new(backend.clone()).with_consumer("billing");
    let mut onward = None;
    consumer
        .handle(&delivered[0], async |work| {
            let id = work.stage(&OrderPlaced {
                order: "o-1-invoiced".to_owned(),
            })?;
            onward = work.staged().iter().find(|e| e.id == id).cloned();
            Ok::<_, tidings_core::Error>(())
        })
        .await
        .expect("handle");
    provider.force_flush().expect("flush");
    let spans = exporter.get_finished_spans().expect("spans");

    let request = span(&spans, "request");
    let stage = span(&spans, "tidings.stage");
    let publish = span(&spans, "tidings.publish");
    let consume = span(&spans, "tidings.consume");
    let trace = request.span_context.trace_id();
    for s in [stage, publish, consume] {
        assert_eq!(
            s.span_context.trace_id(),
            trace,
            "{} left the trace",
            s.name
        );
    }
    assert_eq!(stage.parent_span_id, request.span_context.span_id());
    let staged_at = stage.span_context.span_id();
    assert_eq!(
        publish.parent_span_id, staged_at,
        "publish is not a child of the staging"
    );
    assert_eq!(
        consume.parent_span_id, staged_at,
        "handling is not a child of the staging"
    );
    assert_ne!(consume.parent_span_id, SpanId::INVALID);
    let traceparent = onward
        .and_then(|e| e.traceparent)
        .expect("the onward event's traceparent");
    let consume_id = consume.span_context.span_id().to_string();
    assert!(
        traceparent.contains(&trace.to_string()) && traceparent.contains(&consume_id),
        "the onward event does not carry the handling span: {traceparent}"
    );
}
