//! The Kafka consumer against a real Kafka-protocol broker (`KAFKA_BOOTSTRAP_SERVERS`, Tansu
//! from `scripts/services`), with a PostgreSQL outbox and inbox (`DATABASE_URL`). The publisher
//! runs the shared contract in `publisher_contract.rs`. Each test uses topics and a schema of
//! its own and removes them.
//!
//! The one test of this binary installs the Prometheus recorder, so that the metrics of the
//! work it does (staged, relayed, applied, skipped, dead-lettered) are its own to check.

use std::{sync::Arc, time::Duration};

use metrics_exporter_prometheus::PrometheusBuilder;

use tidings_core::{Envelope, EventPublisher, RetryPolicy, cloudevents::Record};
use tidings_kafka::{
    ConsumerConfig, ERROR_HEADER, KafkaAdmin, KafkaConfig, KafkaConsumer, KafkaPublisher,
};
use tidings_postgres::{PostgresBackend, Schema};
use tidings_relay::{Relay, RelayConfig};
use tidings_testkit::{
    kafka::read_topic, ledger::PostgresLedger, scrape::series, server_from_env, unique,
};
use tidings_uow::UnitOfWork;
use tokio_util::sync::CancellationToken;

const PARTITIONS: i32 = 3;

fn kafka() -> Option<KafkaConfig> {
    server_from_env("KAFKA_BOOTSTRAP_SERVERS").map(KafkaConfig::new)
}

fn topic_name(prefix: &str) -> String {
    unique(prefix)
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
    let ledger = PostgresLedger::create(backend.pool(), &schema).await;

    // 10 good events and a poison one, staged and relayed; 3 good ones delivered twice, and a
    // record that is not a CloudEvent at all.
    let scrape = PrometheusBuilder::new()
        .install_recorder()
        .expect("the only recorder of this test binary");
    let good: Vec<Envelope> = (0..10)
        .map(|n| event(&topic, &format!("k{}", n % 3), n))
        .collect();
    let mut poison = event(&topic, "p", 99);
    poison.payload = br#"{"poison":true}"#.to_vec();
    let mut staged = good.clone();
    staged.push(poison);
    UnitOfWork::new(backend.clone())
        .run(async |work| {
            for envelope in staged.iter().cloned() {
                work.stage_envelope(envelope)?;
            }
            Ok::<_, tidings_core::Error>(())
        })
        .await
        .expect("stage");
    let publisher = KafkaPublisher::new(&config).expect("publisher");
    let relay = Relay::new(
        backend.clone(),
        KafkaPublisher::new(&config).expect("the relay's publisher"),
        RelayConfig::default(),
    );
    let drained = relay.drain().await.expect("drain");
    assert_eq!(drained.total.published, 11, "{drained:?}");
    assert!(
        publisher
            .publish_batch(&good[..3])
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
        KafkaConsumer::new(&config, consumer_config, UnitOfWork::new(backend.clone()))
            .expect("consumer"),
    );
    let mut progress = consumer.progress();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let (consumer, shutdown, ledger) =
            (Arc::clone(&consumer), shutdown.clone(), ledger.clone());
        async move { consumer.run(&ledger, shutdown).await }
    });
    let expected_records = 11 + 3 + 1;
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

    let metrics = scrape.render();
    for (name, value) in [
        ("outbox_events_added_total", 11.0),
        ("outbox_events_published_total", 11.0),
        ("consumer_events_applied_total", 10.0),
        ("consumer_duplicates_skipped_total", 3.0),
        ("consumer_events_dead_lettered_total", 2.0),
    ] {
        assert_eq!(series(&metrics, name), value, "{name} in\n{metrics}");
    }
    assert!(
        series(&metrics, "consumer_handler_seconds_count") >= 16.0,
        "an attempt each for 10 applied, 3 skipped, 3 poison:\n{metrics}"
    );

    let applied = ledger.applied(backend.pool()).await.len();
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
