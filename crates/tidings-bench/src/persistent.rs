//! Persistent publisher figures: events per second and client CPU per event, sequential
//! `publish` and batched `publish_many`, with PostgreSQL and MongoDB stores, beside plain Kafka
//! publishing measured the same way in the same run.

use std::time::Instant;

use serde_json::{Value, json};
use tidings_core::{Envelope, EventPublisher, EventStore};
use tidings_kafka::{KafkaConfig, KafkaPublisher};
use tidings_mongodb::{MongoBackend, MongoEventStore, Names};
use tidings_persistent::{PersistentConfig, PersistentPublisher};
use tidings_postgres::{PostgresEventStore, Schema};

use crate::fixture;

/// CPU time this process has used (user + system), in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; Linux
    // counts them in 1/100 s.
    (ticks(11) + ticks(12)) / 100.0
}

/// Events per second and CPU microseconds per event of `run` over `count` events.
async fn measure<F: Future<Output = ()>>(count: usize, run: F) -> Value {
    let (cpu, started) = (cpu_seconds(), Instant::now());
    run.await;
    let (cpu, elapsed) = (cpu_seconds() - cpu, started.elapsed().as_secs_f64());
    json!({
        "events_per_s": count as f64 / elapsed,
        "cpu_us_per_event": cpu * 1e6 / count as f64,
    })
}

async fn sequential<P: EventPublisher>(publisher: &P, envelopes: &[Envelope]) {
    for envelope in envelopes {
        publisher.publish(envelope).await.expect("publish");
    }
}

async fn batched<P: EventPublisher>(publisher: &P, envelopes: &[Envelope]) {
    for batch in envelopes.chunks(100) {
        for result in publisher.publish_batch(batch).await {
            result.expect("publish");
        }
    }
}

async fn persistent<S: EventStore>(
    store: S,
    kafka: &KafkaConfig,
    one_by_one: &[Envelope],
    in_batches: &[Envelope],
) -> Value {
    let publisher = PersistentPublisher::new(
        store,
        KafkaPublisher::new(kafka).expect("publisher"),
        PersistentConfig::new(),
    )
    .expect("persistent publisher");
    // Warm up: connections, prepared statements, producer metadata.
    for envelope in &one_by_one[..10.min(one_by_one.len())] {
        let mut warm = envelope.clone();
        warm.id = tidings_core::MessageId::new();
        publisher.publish(&warm).await.expect("publish");
    }
    let sequential = measure(one_by_one.len(), async {
        for envelope in one_by_one {
            publisher.publish(envelope).await.expect("publish");
        }
    })
    .await;
    let batched = measure(in_batches.len(), async {
        for batch in in_batches.chunks(100) {
            publisher.publish_many(batch).await.expect("publish_many");
        }
    })
    .await;
    json!({ "publish": sequential, "publish_many_100": batched })
}

/// The figures, as JSON: `kafka` (plain publisher), `postgres`, `mongodb` (when `mongo_url`).
pub(crate) async fn figures(
    url: &str,
    mongo_url: Option<&str>,
    kafka: &KafkaConfig,
    sequential_count: u64,
    batched_count: u64,
) -> Value {
    let topic = fixture::topic(kafka).await;
    let events = |from: u64, count: u64| -> Vec<Envelope> {
        (from..from + count)
            .map(|n| fixture::envelope(&topic, n))
            .collect()
    };
    let plain = KafkaPublisher::new(kafka).expect("publisher");
    // Warm the connection so the first figure does not pay for metadata.
    sequential(&plain, &events(0, 10)).await;
    let mut figures = serde_json::Map::new();
    let base = 1_000_000;
    figures.insert(
        "kafka".into(),
        json!({
            "publish": measure(sequential_count as usize,
                sequential(&plain, &events(base, sequential_count))).await,
            "publish_many_100": measure(batched_count as usize,
                batched(&plain, &events(2 * base, batched_count))).await,
        }),
    );

    let backend = fixture::schema(url, 4).await;
    let store = PostgresEventStore::new(
        backend.pool().clone(),
        &Schema::in_schema(backend.schema().schema()).expect("schema"),
    );
    store.migrate().await.expect("migrate");
    figures.insert(
        "postgres".into(),
        persistent(
            store,
            kafka,
            &events(3 * base, sequential_count),
            &events(4 * base, batched_count),
        )
        .await,
    );
    fixture::drop_schema(&backend).await;

    if let Some(mongo_url) = mongo_url {
        let backend = MongoBackend::connect(mongo_url).await.expect("MONGODB_URL");
        let database = tidings_testkit::unique_ident("bench");
        let names = Names::in_database(&database).expect("name");
        let store = MongoEventStore::new(backend.client().clone(), &names);
        store.migrate().await.expect("migrate");
        figures.insert(
            "mongodb".into(),
            persistent(
                store,
                kafka,
                &events(5 * base, sequential_count),
                &events(6 * base, batched_count),
            )
            .await,
        );
        backend
            .client()
            .database(&database)
            .drop()
            .await
            .expect("drop");
    }
    fixture::delete_topic(kafka, &topic).await;
    Value::Object(figures)
}
