//! One function per figure of the benchmark table.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use rdkafka::{
    ClientConfig, Message as _, Offset, TopicPartitionList,
    consumer::{Consumer, StreamConsumer},
    producer::{FutureProducer, FutureRecord},
};
use tidings_core::{
    BoxError, ClaimRequest, Envelope, EventPublisher, OutboxRepository, Outcome, PublishOutcome,
    Settlement, cloudevents,
};
use tidings_kafka::{ConsumerConfig, EventHandler, KafkaConfig, KafkaConsumer, KafkaPublisher};
use tidings_postgres::{PostgresBackend, PostgresTransaction, PublishedRows};
use tidings_relay::{Relay, RelayConfig};
use tidings_testkit::unique;
use tidings_uow::Work;
use tokio_util::sync::CancellationToken;

use crate::fixture::{self, BenchEvent, KEYS, PARTITIONS, Verification, percentile};

type PostgresUnitOfWork = tidings_uow::UnitOfWork<PostgresBackend>;

fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// The relay configuration the benchmark uses: big batches, notifications, short polls.
pub(crate) fn relay_config(owner: &str, workers: usize) -> RelayConfig {
    RelayConfig::default()
        .with_owner(owner)
        .with_workers(workers)
        .with_batch_size(2000)
        .with_poll_interval(Duration::from_millis(50))
}

/// Ceiling 1: the raw rdkafka producer, every send in flight, same producer settings as the
/// publisher (idempotent, acks=all).
pub(crate) async fn raw_producer(kafka: &KafkaConfig, count: u64) -> f64 {
    let topic = fixture::topic(kafka).await;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "1")
        .set("compression.type", "lz4")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer");
    let records: Vec<(String, Vec<u8>)> = (0..count)
        .map(|n| {
            let e = fixture::envelope(&topic, n);
            (e.key, e.payload)
        })
        .collect();
    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(records.len());
    for (key, payload) in &records {
        let record = FutureRecord::to(&topic).key(key).payload(payload);
        deliveries.push(
            producer
                .send_result(record)
                .map_err(|(e, _)| e)
                .expect("enqueue"),
        );
    }
    let delivered = join_all(deliveries).await;
    let elapsed = started.elapsed();
    assert!(
        delivered.iter().all(|d| matches!(d, Ok(Ok(_)))),
        "raw producer lost records"
    );
    fixture::delete_topic(kafka, &topic).await;
    per_second(count, elapsed)
}

/// The broker's own floor: one record at a time, each awaited.
pub(crate) async fn broker_ack_floor(kafka: &KafkaConfig, count: u64) -> Latency {
    let topic = fixture::topic(kafka).await;
    let publisher = KafkaPublisher::new(kafka).expect("publisher");
    // Warm up: metadata and the producer id.
    publisher
        .publish(&fixture::envelope(&topic, 0))
        .await
        .expect("publish");
    let mut samples = Vec::with_capacity(count as usize);
    for n in 1..=count {
        let envelope = fixture::envelope(&topic, n);
        let started = Instant::now();
        publisher.publish(&envelope).await.expect("publish");
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    fixture::delete_topic(kafka, &topic).await;
    latency(samples)
}

/// Ceiling 2: claiming and settling a backlog in the relay's own batches, no broker; settled
/// rows kept or deleted as `published` says.
pub(crate) async fn sql_drain(url: &str, count: u64, published: PublishedRows) -> f64 {
    let backend = fixture::schema(url, 4).await.with_published_rows(published);
    fixture::stage_backlog(&backend, "bench", count).await;
    let batch = relay_config("sql", 1).batch_size;
    let started = Instant::now();
    let mut drained = 0;
    loop {
        let rows = backend
            .claim_batch(&ClaimRequest::new("sql", batch, Duration::from_secs(30)))
            .await
            .expect("claim");
        if rows.is_empty() {
            break;
        }
        let settlements: Vec<Settlement> = rows
            .iter()
            .map(|r| Settlement::of(r, Outcome::Published))
            .collect();
        drained += backend
            .settle("sql", chrono::Utc::now(), &settlements)
            .await
            .expect("settle");
    }
    let elapsed = started.elapsed();
    assert_eq!(drained, count, "the SQL drain missed rows");
    fixture::drop_schema(&backend).await;
    per_second(count, elapsed)
}

/// The relay draining a backlog to Kafka with `workers` relay tasks, then every event verified
/// on the topic.
pub(crate) async fn relay_drain(
    url: &str,
    kafka: &KafkaConfig,
    count: u64,
    workers: usize,
    published: PublishedRows,
) -> (f64, Verification) {
    let backend = fixture::schema(url, 4 + 2 * workers as u32)
        .await
        .with_published_rows(published);
    let topic = fixture::topic(kafka).await;
    fixture::stage_backlog(&backend, &topic, count).await;
    let publisher = Counted::new(KafkaPublisher::new(kafka).expect("publisher"));
    let started = Instant::now();
    let shutdown = CancellationToken::new();
    let relay = Relay::new(
        backend.clone(),
        publisher.clone(),
        relay_config("drain", workers),
    );
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { relay.run(shutdown).await }
    });
    while publisher.published() < count {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    running.await.expect("relay");
    let kafka_for_check = kafka.clone();
    let check_topic = topic.clone();
    let verification =
        tokio::task::spawn_blocking(move || fixture::verify(&kafka_for_check, &check_topic, count))
            .await
            .expect("verify");
    fixture::delete_topic(kafka, &topic).await;
    fixture::drop_schema(&backend).await;
    (per_second(count, elapsed), verification)
}

/// Counts what the broker acknowledged, so that the benchmark can tell when a drain is done
/// without querying the database it is measuring.
#[derive(Clone)]
pub(crate) struct Counted {
    pub(crate) inner: KafkaPublisher,
    pub(crate) published: Arc<std::sync::atomic::AtomicU64>,
}

impl Counted {
    pub(crate) fn new(inner: KafkaPublisher) -> Self {
        Self {
            inner,
            published: Arc::default(),
        }
    }

    pub(crate) fn published(&self) -> u64 {
        self.published.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl EventPublisher for Counted {
    async fn publish_batch(&self, envelopes: &[Envelope]) -> PublishOutcome {
        let outcome = self.inner.publish_batch(envelopes).await;
        let ok = outcome.iter().filter(|r| r.is_ok()).count() as u64;
        self.published
            .fetch_add(ok, std::sync::atomic::Ordering::Relaxed);
        outcome
    }
}

/// Records when the broker acknowledged each envelope.
struct Timed {
    inner: KafkaPublisher,
    acked: Arc<Mutex<HashMap<String, Instant>>>,
}

impl EventPublisher for Timed {
    async fn publish_batch(&self, envelopes: &[Envelope]) -> PublishOutcome {
        let outcome = self.inner.publish_batch(envelopes).await;
        let now = Instant::now();
        let mut acked = self.acked.lock().expect("lock");
        for (envelope, result) in envelopes.iter().zip(&outcome) {
            if result.is_ok() {
                acked.insert(envelope.id.to_string(), now);
            }
        }
        outcome
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub(crate) samples: usize,
}

pub(crate) fn latency(mut samples: Vec<f64>) -> Latency {
    Latency {
        p50_ms: percentile(&mut samples, 50.0),
        p99_ms: percentile(&mut samples, 99.0),
        samples: samples.len(),
    }
}

/// A consumer that notes when each event id arrives.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

fn arrival_recorder(
    kafka: &KafkaConfig,
    topic: &str,
) -> (Arrivals, tokio::task::JoinHandle<()>, CancellationToken) {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("group.id", unique("latency"))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "1")
        .set("fetch.min.bytes", "1")
        .create()
        .expect("consumer");
    let mut partitions = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        partitions
            .add_partition_offset(topic, partition, Offset::End)
            .expect("partition");
    }
    consumer.assign(&partitions).expect("assign");
    let arrived = Arc::new(Mutex::new(HashMap::new()));
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let (arrived, stop) = (Arc::clone(&arrived), stop.clone());
        async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    message = consumer.recv() => {
                        let Ok(message) = message else { continue };
                        let now = Instant::now();
                        let id = message
                            .key()
                            .and_then(|_| id_of(&message))
                            .unwrap_or_default();
                        arrived.lock().expect("lock").insert(id, now);
                    }
                }
            }
        }
    });
    (arrived, task, stop)
}

fn id_of(message: &rdkafka::message::BorrowedMessage<'_>) -> Option<String> {
    use rdkafka::message::Headers;
    let headers = message.headers()?;
    headers
        .iter()
        .find(|h| h.key == "ce_id")
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Commit→broker-ack and commit→consumer latency at a steady `rate` events/s for `duration`,
/// with a relay woken by LISTEN/NOTIFY; and the direct producer→consumer baseline, measured
/// the same way on the same broker.
pub(crate) async fn latencies(
    url: &str,
    kafka: &KafkaConfig,
    rate: u64,
    duration: Duration,
    workers: usize,
) -> (Latency, Latency, Latency) {
    let backend = fixture::schema(url, 6).await;
    let topic = fixture::topic(kafka).await;
    let (arrived, consumer_task, stop_consumer) = arrival_recorder(kafka, &topic);
    let acked = Arc::new(Mutex::new(HashMap::new()));
    let relay = Relay::new(
        backend.clone(),
        Timed {
            inner: KafkaPublisher::new(kafka).expect("publisher"),
            acked: Arc::clone(&acked),
        },
        relay_config("latency", workers).with_poll_interval(Duration::from_secs(1)),
    );
    let shutdown = CancellationToken::new();
    let relay_task = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { relay.run(shutdown).await }
    });
    // Give the consumer its assignment and the relay its LISTEN connection.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let uow = PostgresUnitOfWork::new(backend.clone());
    let mut committed: HashMap<String, Instant> = HashMap::new();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let total = rate * duration.as_secs();
    for n in 0..total {
        ticker.tick().await;
        let id = uow
            .run(async |work| {
                work.stage(&BenchEvent::new(
                    &topic,
                    format!("key-{}", n % KEYS),
                    n / KEYS,
                ))
            })
            .await
            .expect("commit");
        committed.insert(id.to_string(), Instant::now());
    }
    wait_for(
        || arrived.lock().expect("lock").len() as u64 >= total,
        Duration::from_secs(30),
    )
    .await;
    shutdown.cancel();
    relay_task.await.expect("relay");
    let (to_ack, to_consumer) = {
        let acked = acked.lock().expect("lock");
        let arrived = arrived.lock().expect("lock");
        let since = |map: &HashMap<String, Instant>| -> Vec<f64> {
            committed
                .iter()
                .filter_map(|(id, at)| {
                    map.get(id)
                        .map(|t| t.saturating_duration_since(*at).as_secs_f64() * 1000.0)
                })
                .collect()
        };
        (latency(since(&acked)), latency(since(&arrived)))
    };
    arrived.lock().expect("lock").clear();

    // Baseline: the same consumer, fed by a producer sending directly at the same rate.
    let producer = KafkaPublisher::new(kafka).expect("publisher");
    // Warm up: metadata and the producer id, as the relay's publisher had before.
    producer
        .send_record(&cloudevents::encode_binary(&fixture::envelope(
            &topic,
            u64::MAX / 2,
        )))
        .await
        .expect("warm-up");
    wait_for(
        || !arrived.lock().expect("lock").is_empty(),
        Duration::from_secs(10),
    )
    .await;
    arrived.lock().expect("lock").clear();
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let mut in_flight = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    for n in 0..total {
        ticker.tick().await;
        let envelope = fixture::envelope(&topic, n);
        let record = cloudevents::encode_binary(&envelope);
        sent.insert(envelope.id.to_string(), Instant::now());
        let producer = producer.clone();
        in_flight.push(tokio::spawn(
            async move { producer.send_record(&record).await },
        ));
    }
    join_all(in_flight).await;
    wait_for(
        || arrived.lock().expect("lock").len() as u64 >= total,
        Duration::from_secs(30),
    )
    .await;
    stop_consumer.cancel();
    consumer_task.await.expect("consumer");
    let direct = {
        let arrived = arrived.lock().expect("lock");
        latency(
            sent.iter()
                .filter_map(|(id, at)| {
                    arrived
                        .get(id)
                        .map(|t| t.saturating_duration_since(*at).as_secs_f64() * 1000.0)
                })
                .collect(),
        )
    };
    fixture::delete_topic(kafka, &topic).await;
    fixture::drop_schema(&backend).await;
    (to_ack, to_consumer, direct)
}

async fn wait_for(done: impl Fn() -> bool, limit: Duration) {
    let started = Instant::now();
    while !done() && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Mean latency (ms) of a one-row business transaction, without and with one staged event.
pub(crate) async fn transaction_overhead(url: &str, iterations: u32) -> (f64, f64) {
    let backend = fixture::schema(url, 2).await;
    let accounts = format!("\"{}\".accounts", backend.schema().schema());
    let insert = format!("INSERT INTO {accounts} (owner, balance) VALUES ($1, $2)");
    let uow = PostgresUnitOfWork::new(backend.clone());
    let (mut plain, mut staged) = (Duration::ZERO, Duration::ZERO);
    // Interleaved, so that both see the same state of the server.
    for n in 0..iterations {
        let started = Instant::now();
        uow.run(async |work| {
            sqlx::query(&insert)
                .bind("plain")
                .bind(i64::from(n))
                .execute(&mut **work.transaction())
                .await
        })
        .await
        .expect("plain transaction");
        plain += started.elapsed();
        let started = Instant::now();
        insert_and_stage(&uow, &insert, n).await;
        staged += started.elapsed();
    }
    fixture::drop_schema(&backend).await;
    let mean = |total: Duration| total.as_secs_f64() * 1000.0 / f64::from(iterations);
    (mean(plain), mean(staged))
}

/// One unit of work: an account row (`insert` binds owner and balance) and one staged event.
pub(crate) async fn insert_and_stage(uow: &PostgresUnitOfWork, insert: &str, n: u32) {
    uow.run(async |work| {
        sqlx::query(insert)
            .bind("staged")
            .bind(i64::from(n))
            .execute(&mut **work.transaction())
            .await?;
        work.stage(&BenchEvent::new("bench", format!("key-{n}"), 0))?;
        Ok::<_, BoxError>(())
    })
    .await
    .expect("staging transaction");
}

/// Events staged per second, `per_transaction` events per unit of work, on `tasks` connections.
pub(crate) async fn staging(url: &str, transactions: u64, per_transaction: u64, tasks: u64) -> f64 {
    let backend = fixture::schema(url, tasks as u32 + 1).await;
    let uow = PostgresUnitOfWork::new(backend.clone());
    let started = Instant::now();
    let workers = (0..tasks).map(|t| {
        let uow = uow.clone();
        async move {
            for x in 0..transactions / tasks {
                uow.run(async |work| {
                    for i in 0..per_transaction {
                        let n = (t * 1_000_000) + x * per_transaction + i;
                        work.stage(&BenchEvent::new("bench", format!("key-{}", n % KEYS), n))?;
                    }
                    Ok::<_, tidings_core::Error>(())
                })
                .await
                .expect("stage");
            }
        }
    });
    join_all(workers).await;
    let elapsed = started.elapsed();
    fixture::drop_schema(&backend).await;
    per_second(transactions / tasks * tasks * per_transaction, elapsed)
}

/// Ceiling for staging: the same number of rows inserted into the same outbox table, 100 per
/// transaction on one connection, with every row made by the server (`generate_series`), so no
/// client work at all. The outbox's indexes, WAL and commit are what this measures.
pub(crate) async fn server_insert_ceiling(
    url: &str,
    transactions: u64,
    per_transaction: u64,
) -> f64 {
    let backend = fixture::schema(url, 1).await;
    let insert = format!(
        "INSERT INTO {} (id, topic, partition_key, message_type, source, event_time, \
         content_type, payload, correlation_id) \
         SELECT md5(($1 * 1000 + n)::text), 'bench', 'key-' || (($1 * 1000 + n) % {KEYS}), \
         'bench.event', 'bench', now(), 'application/json', \
         convert_to(repeat('x', {}), 'UTF8'), md5(n::text) FROM generate_series(1, $2) n",
        backend.schema().outbox(),
        fixture::PAYLOAD_BYTES,
    );
    let started = Instant::now();
    for x in 0..transactions {
        let mut tx = backend.pool().begin().await.expect("begin");
        sqlx::query(&insert)
            .bind(x as i64)
            .bind(per_transaction as i64)
            .execute(&mut *tx)
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
    }
    let elapsed = started.elapsed();
    fixture::drop_schema(&backend).await;
    per_second(transactions * per_transaction, elapsed)
}

struct LedgerInsert {
    table: String,
}

impl EventHandler<PostgresTransaction> for LedgerInsert {
    async fn handle(
        &self,
        work: &mut Work<PostgresTransaction>,
        event: &Envelope,
    ) -> Result<(), BoxError> {
        sqlx::query(&format!(
            "INSERT INTO {} (owner, balance) VALUES ($1, 1)",
            self.table
        ))
        .bind(event.key.as_str())
        .execute(&mut **work.transaction())
        .await?;
        Ok(())
    }
}

/// Records/s consumed into PostgreSQL, with the inbox (the Tidings consumer) and without it (a
/// plain consumer running the same insert in its own transaction per record).
pub(crate) async fn consumer_throughput(url: &str, kafka: &KafkaConfig, count: u64) -> (f64, f64) {
    let backend = fixture::schema(url, 4).await;
    let topic = fixture::topic(kafka).await;
    let publisher = KafkaPublisher::new(kafka).expect("publisher");
    let envelopes: Vec<Envelope> = (0..count).map(|n| fixture::envelope(&topic, n)).collect();
    for chunk in envelopes.chunks(10_000) {
        assert!(
            publisher
                .publish_batch(chunk)
                .await
                .iter()
                .all(Result::is_ok)
        );
    }
    let table = format!("\"{}\".accounts", backend.schema().schema());

    // With the inbox.
    let consumer = Arc::new(
        KafkaConsumer::new(
            kafka,
            ConsumerConfig::new(unique("inbox"), &[&topic])
                .with_session_timeout(Duration::from_secs(6)),
            PostgresUnitOfWork::new(backend.clone()),
        )
        .expect("consumer"),
    );
    let mut progress = consumer.progress();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let (consumer, shutdown, table) = (Arc::clone(&consumer), shutdown.clone(), table.clone());
        async move { consumer.run(&LedgerInsert { table }, shutdown).await }
    });
    progress
        .wait_for(|r| r.processed() >= 1)
        .await
        .expect("progress");
    let started = Instant::now();
    progress
        .wait_for(|r| r.processed() >= count)
        .await
        .expect("progress");
    let with_inbox = per_second(count - 1, started.elapsed());
    shutdown.cancel();
    running.await.expect("consumer").expect("consumer run");
    drop(consumer);

    // Without: the same insert per record in a transaction of its own, offsets stored after.
    let plain: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("group.id", unique("plain"))
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .create()
        .expect("consumer");
    plain.subscribe(&[&topic]).expect("subscribe");
    let insert = format!("INSERT INTO {table} (owner, balance) VALUES ($1, 1)");
    let mut started = None;
    for n in 0..count {
        let message = plain.recv().await.expect("receive");
        if n == 1 {
            started = Some(Instant::now());
        }
        let mut tx = backend.pool().begin().await.expect("begin");
        sqlx::query(&insert)
            .bind(String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned())
            .execute(&mut *tx)
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
        plain
            .store_offset_from_message(&message)
            .expect("store offset");
    }
    let without_inbox = per_second(
        count - 1,
        started.map_or(Duration::from_secs(1), |s| s.elapsed()),
    );
    drop(plain);
    fixture::delete_topic(kafka, &topic).await;
    fixture::drop_schema(&backend).await;
    (with_inbox, without_inbox)
}
