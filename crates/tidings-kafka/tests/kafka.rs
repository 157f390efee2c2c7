//! The Kafka publisher and consumer against a real Kafka-protocol broker
//! (`KAFKA_BOOTSTRAP_SERVERS`, Tansu from `scripts/services`), with a PostgreSQL inbox
//! (`DATABASE_URL`). Each test uses topics and a schema of its own and removes them.

use std::{collections::HashMap, sync::Arc, time::Duration};

use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{Consumer, StreamConsumer},
};
use tidings_core::{
    BoxError, Envelope, Error, EventPublisher, RetryPolicy,
    cloudevents::{self, ContentMode, Record},
    conformance::{server_from_env, unique},
};
use tidings_kafka::{
    ConsumerConfig, ERROR_HEADER, EventHandler, KafkaAdmin, KafkaConfig, KafkaConsumer,
    KafkaPublisher,
};
use tidings_postgres::{PostgresBackend, PostgresTransaction, PostgresUnitOfWork, Schema};
use tidings_uow::Work;
use tokio_util::sync::CancellationToken;

const PARTITIONS: i32 = 3;

fn kafka() -> Option<KafkaConfig> {
    server_from_env("KAFKA_BOOTSTRAP_SERVERS").map(KafkaConfig::new)
}

fn topic_name(prefix: &str) -> String {
    unique(prefix)
}

/// Reads `count` records from the `partitions` partitions of `topic` from the beginning.
async fn read_topic(
    config: &KafkaConfig,
    topic: &str,
    partitions: i32,
    count: usize,
) -> Vec<Record> {
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &config.bootstrap_servers)
        .set("group.id", unique("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("reader");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&assignment).expect("assign");
    let mut records = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while records.len() < count {
            let message = consumer.recv().await.expect("receive");
            records.push(tidings_kafka::to_record(&message));
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "only {} of {count} records arrived on {topic}",
            records.len()
        )
    });
    records
}

fn event(topic: &str, key: &str, n: usize) -> Envelope {
    let mut e = Envelope::new(
        topic,
        key,
        "test.step",
        "application/json",
        format!(r#"{{"n":{n}}}"#).into_bytes(),
    );
    e.correlation_id = Some(format!("corr-{key}"));
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_in_both_modes_in_order_per_key() {
    let Some(config) = kafka() else { return };
    let admin = KafkaAdmin::new(&config).expect("admin");
    for mode in [ContentMode::Binary, ContentMode::Structured] {
        let topic = topic_name("publish");
        admin
            .ensure_topic(&topic, PARTITIONS)
            .await
            .expect("create topic");
        let publisher = KafkaPublisher::new(&config)
            .expect("publisher")
            .with_mode(mode);
        let sent: Vec<Envelope> = (0..60)
            .map(|n| event(&topic, &format!("k{}", n % 5), n))
            .collect();
        let results = publisher.publish_batch(&sent).await;
        assert!(results.iter().all(Result::is_ok), "{mode:?}: {results:?}");

        let received: Vec<Envelope> = read_topic(&config, &topic, PARTITIONS, sent.len())
            .await
            .iter()
            .map(|r| cloudevents::decode(r).expect("a valid CloudEvent"))
            .collect();
        let mut per_key: HashMap<&str, Vec<&Envelope>> = HashMap::new();
        for e in &received {
            per_key.entry(e.key.as_str()).or_default().push(e);
        }
        for k in 0..5 {
            let key = format!("k{k}");
            let expected: Vec<&str> = sent
                .iter()
                .filter(|e| e.key == key)
                .map(|e| e.id.as_str())
                .collect();
            let got: Vec<&str> = per_key[key.as_str()]
                .iter()
                .map(|e| e.id.as_str())
                .collect();
            assert_eq!(got, expected, "{mode:?}: key {key} out of order");
        }
        let first = received
            .iter()
            .find(|e| e.id == sent[0].id)
            .expect("first event");
        assert_eq!(first.payload, sent[0].payload);
        assert_eq!(first.correlation_id, sent[0].correlation_id);
        admin.delete_topics(&[&topic]).await.expect("delete topic");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_before_sending_and_holds_back_its_key() {
    let Some(config) = kafka() else { return };
    let admin = KafkaAdmin::new(&config).expect("admin");
    let topic = topic_name("bad");
    admin
        .ensure_topic(&topic, PARTITIONS)
        .await
        .expect("create topic");
    let publisher = KafkaPublisher::new(&config)
        .expect("publisher")
        .with_max_message_bytes(10_000);
    let mut oversized = event(&topic, "big", 0);
    oversized.payload = vec![b'x'; 20_000];
    let batch = [
        event(&topic, "ok", 1),
        event("not a topic", "bad-topic", 2),
        oversized,
        event(&topic, "big", 3),
        event(&topic, "ok", 4),
    ];
    let results = publisher.publish_batch(&batch).await;
    assert!(results[0].is_ok() && results[4].is_ok(), "{results:?}");
    assert!(
        matches!(results[1], Err(Error::InvalidTopic { .. })),
        "{:?}",
        results[1]
    );
    assert!(
        matches!(results[2], Err(Error::PayloadTooLarge { size, limit: 10_000 }) if size > 20_000),
        "{:?}",
        results[2]
    );
    assert!(
        results[3].is_err(),
        "a later event of a refused key was sent"
    );
    let records = read_topic(&config, &topic, PARTITIONS, 2).await;
    let keys: Vec<_> = records
        .iter()
        .map(|r| r.key.clone().unwrap_or_default())
        .collect();
    assert_eq!(keys, [b"ok".to_vec(), b"ok".to_vec()]);
    admin.delete_topics(&[&topic]).await.expect("delete topic");
}

/// Records each applied step in a table of its own schema; fails for payloads marked poison.
struct Ledger {
    table: String,
}

impl EventHandler<PostgresTransaction> for Ledger {
    async fn handle(
        &self,
        work: &mut Work<PostgresTransaction>,
        event: &Envelope,
    ) -> Result<(), BoxError> {
        if event.payload.windows(6).any(|w| w == b"poison") {
            return Err("the ledger refuses poison".into());
        }
        sqlx::query(&format!("INSERT INTO {} (id) VALUES ($1)", self.table))
            .bind(event.id.as_str())
            .execute(&mut **work.transaction())
            .await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_applies_once_and_dead_letters_what_it_cannot_apply() {
    let (Some(config), Some(url)) = (kafka(), server_from_env("DATABASE_URL")) else {
        return;
    };
    let admin = KafkaAdmin::new(&config).expect("admin");
    let topic = topic_name("consume");
    let dlq = format!("{topic}.dlq");
    admin
        .ensure_topic(&topic, PARTITIONS)
        .await
        .expect("create topic");
    admin
        .ensure_topic(&dlq, 1)
        .await
        .expect("create dead-letter topic");

    let schema = unique("k").replace('-', "_");
    let backend = PostgresBackend::connect(&url)
        .await
        .expect("connect")
        .with_schema(Schema::in_schema(&schema).expect("schema"));
    backend.migrate().await.expect("migrate");
    let table = format!("\"{schema}\".ledger");
    sqlx::query(&format!("CREATE TABLE {table} (id TEXT PRIMARY KEY)"))
        .execute(backend.pool())
        .await
        .expect("ledger table");

    // 10 good events, 3 of them delivered twice, a poison event and a record that is not a
    // CloudEvent at all.
    let publisher = KafkaPublisher::new(&config).expect("publisher");
    let good: Vec<Envelope> = (0..10)
        .map(|n| event(&topic, &format!("k{}", n % 3), n))
        .collect();
    let mut batch = good.clone();
    batch.extend(good[..3].iter().cloned());
    let mut poison = event(&topic, "p", 99);
    poison.payload = br#"{"poison":true}"#.to_vec();
    batch.push(poison);
    assert!(
        publisher
            .publish_batch(&batch)
            .await
            .iter()
            .all(Result::is_ok)
    );
    publisher
        .send_record(&Record {
            topic: topic.clone(),
            key: Some(b"junk".to_vec()),
            headers: vec![],
            value: b"not a cloudevent".to_vec(),
        })
        .await
        .expect("send junk");

    let consumer_config = ConsumerConfig::new(unique("group"), &[&topic])
        .with_session_timeout(Duration::from_secs(6))
        .with_retry(
            RetryPolicy::default()
                .with_max_attempts(3)
                .with_delays(Duration::from_millis(10), Duration::from_millis(50)),
        );
    let consumer = Arc::new(
        KafkaConsumer::new(
            &config,
            consumer_config,
            PostgresUnitOfWork::new(backend.clone()),
        )
        .expect("consumer"),
    );
    let mut progress = consumer.progress();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let (consumer, shutdown, table) = (Arc::clone(&consumer), shutdown.clone(), table.clone());
        async move { consumer.run(&Ledger { table }, shutdown).await }
    });
    let expected_records = batch.len() as u64 + 1;
    tokio::time::timeout(
        Duration::from_secs(60),
        progress.wait_for(|r| r.processed() >= expected_records),
    )
    .await
    .expect("the consumer did not get through the topic in 60 s")
    .expect("progress");
    shutdown.cancel();
    let report = running.await.expect("consumer task").expect("consumer run");
    println!("{report:?}");
    assert_eq!(report.applied, 10);
    assert_eq!(report.duplicates, 3);
    assert_eq!(report.malformed, 1);
    assert_eq!(report.dead_lettered, 1);
    assert_eq!(
        report.retries, 2,
        "the poison record is tried max_attempts times"
    );

    let applied: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(backend.pool())
        .await
        .expect("count");
    assert_eq!(applied, 10, "every good event applied exactly once");
    let dead = read_topic(&config, &dlq, 1, 2).await;
    let errors: Vec<String> = dead
        .iter()
        .map(|r| String::from_utf8_lossy(r.header(ERROR_HEADER).unwrap_or_default()).into_owned())
        .collect();
    assert!(
        errors.iter().any(|e| e.contains("malformed CloudEvent")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("the ledger refuses poison")),
        "{errors:?}"
    );

    // librdkafka 2.12 crashes on Tansu's metadata for a deleted topic while a consumer is still
    // subscribed to it: the consumer goes first.
    drop(consumer);
    admin
        .delete_topics(&[&topic, &dlq])
        .await
        .expect("delete topics");
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(backend.pool())
        .await
        .expect("drop schema");
}
