//! What every measurement needs: a schema of its own, topics of its own, 300-byte events, and a
//! way to read a topic back and check it.

use std::{collections::HashMap, time::Duration};

use rdkafka::{
    ClientConfig, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
};
use serde::Serialize;
use tidings_core::{Envelope, Message, OutboxRepository, Transactional, cloudevents};
use tidings_kafka::{KafkaAdmin, KafkaConfig};
use tidings_postgres::{PostgresBackend, Schema};
use tidings_testkit::unique;

/// Size of every event's payload, as the issue asks.
pub(crate) const PAYLOAD_BYTES: usize = 300;
/// Partitions of the benchmark topics: enough to spread load (Tansu slows down as a partition
/// grows), few enough for two cores.
pub(crate) const PARTITIONS: i32 = 16;
/// Distinct partition keys in backlogs.
pub(crate) const KEYS: u64 = 1000;

/// A domain event of 300 bytes of JSON.
#[derive(Serialize)]
pub(crate) struct BenchEvent {
    pub(crate) key: String,
    pub(crate) n: u64,
    pub(crate) pad: String,
    #[serde(skip)]
    pub(crate) topic: String,
}

impl BenchEvent {
    pub(crate) fn new(topic: &str, key: String, n: u64) -> Self {
        let mut event = Self {
            key,
            n,
            pad: String::new(),
            topic: topic.to_owned(),
        };
        let bare = serde_json::to_vec(&event).map_or(0, |v| v.len());
        event.pad = "x".repeat(PAYLOAD_BYTES.saturating_sub(bare));
        event
    }
}

impl Message for BenchEvent {
    fn message_type(&self) -> &str {
        "bench.event"
    }
    fn aggregate_id(&self) -> String {
        self.key.clone()
    }
    fn topic(&self) -> Option<&str> {
        Some(&self.topic)
    }
}

/// The envelope of the `n`-th event of a backlog spread over [`KEYS`] keys.
pub(crate) fn envelope(topic: &str, n: u64) -> Envelope {
    let event = BenchEvent::new(topic, format!("key-{}", n % KEYS), n / KEYS);
    tidings_core::EnvelopeFactory::new("/bench")
        .envelope(&event, None)
        .expect("a valid bench event")
}

/// A PostgreSQL schema with the Tidings tables and a business table, dropped by [`drop_schema`].
pub(crate) async fn schema(url: &str, pool_size: u32) -> PostgresBackend {
    let name = unique("bench").replace('-', "_");
    let options: sqlx::postgres::PgConnectOptions = url.parse().expect("DATABASE_URL");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(pool_size)
        .connect_with(options)
        .await
        .expect("connect to DATABASE_URL");
    let backend =
        PostgresBackend::from_pool(pool).with_schema(Schema::in_schema(&name).expect("schema"));
    backend.migrate().await.expect("migrate");
    sqlx::query(&format!(
        "CREATE TABLE \"{name}\".accounts (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
         owner TEXT NOT NULL, balance BIGINT NOT NULL)"
    ))
    .execute(backend.pool())
    .await
    .expect("business table");
    backend
}

pub(crate) async fn drop_schema(backend: &PostgresBackend) {
    let _ = sqlx::query(&format!(
        "DROP SCHEMA \"{}\" CASCADE",
        backend.schema().schema()
    ))
    .execute(backend.pool())
    .await;
}

/// Stages `count` events as a backlog, 5,000 per transaction.
pub(crate) async fn stage_backlog(backend: &PostgresBackend, topic: &str, count: u64) {
    let mut n = 0;
    while n < count {
        let batch: Vec<Envelope> = (n..(n + 5000).min(count))
            .map(|i| envelope(topic, i))
            .collect();
        let mut tx = backend.begin().await.expect("begin");
        backend.stage(&mut tx, &batch).await.expect("stage");
        backend.commit(tx).await.expect("commit");
        n += batch.len() as u64;
    }
}

pub(crate) async fn topic(kafka: &KafkaConfig) -> String {
    let topic = unique("bench");
    KafkaAdmin::new(kafka)
        .expect("admin")
        .ensure_topic(&topic, PARTITIONS)
        .await
        .expect("create topic");
    topic
}

pub(crate) async fn delete_topic(kafka: &KafkaConfig, topic: &str) {
    if let Ok(admin) = KafkaAdmin::new(kafka) {
        let _ = admin.delete_topics(&[topic]).await;
    }
}

/// What a topic holds compared with a backlog of `expected` events.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub(crate) struct Verification {
    pub(crate) records: u64,
    pub(crate) lost: u64,
    pub(crate) duplicates: u64,
    pub(crate) out_of_order: u64,
}

/// Reads every record of `topic` (stopping once `expected` distinct events were seen and the
/// topic is quiet) and checks them against the backlog: each event once, in order per key.
pub(crate) fn verify(kafka: &KafkaConfig, topic: &str, expected: u64) -> Verification {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("group.id", unique("verify"))
        .set("enable.auto.commit", "false")
        .set("fetch.max.bytes", "52428800")
        .create()
        .expect("verifier");
    let mut partitions = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        partitions
            .add_partition_offset(topic, partition, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&partitions).expect("assign");
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut last_n: HashMap<String, i64> = HashMap::new();
    let mut verification = Verification::default();
    let mut quiet_polls = 0;
    while quiet_polls < 20 && !(seen.len() as u64 >= expected && quiet_polls >= 2) {
        let Some(message) = consumer.poll(Duration::from_millis(250)) else {
            quiet_polls += 1;
            continue;
        };
        quiet_polls = 0;
        let message = message.expect("read record");
        let record = tidings_kafka::to_record(&message);
        verification.records += 1;
        let event = cloudevents::decode(&record).expect("a CloudEvent");
        let count = seen.entry(event.id.to_string()).or_default();
        *count += 1;
        if *count > 1 {
            verification.duplicates += 1;
            continue;
        }
        let body: serde_json::Value = serde_json::from_slice(&event.payload).expect("JSON");
        let n = body["n"].as_i64().unwrap_or(-1);
        if last_n
            .get(&event.key)
            .is_some_and(|previous| n <= *previous)
        {
            verification.out_of_order += 1;
        }
        last_n.insert(event.key, n);
    }
    verification.lost = expected.saturating_sub(seen.len() as u64);
    verification
}

/// The p-th percentile (0–100) of `samples` in milliseconds.
pub(crate) fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[rank.min(samples.len() - 1)]
}
