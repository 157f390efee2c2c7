//! DynamoDB beside PostgreSQL, in the same run: the commit latency of a unit of work that
//! writes one business item and stages one event, and the relay's drain to Kafka of the same
//! backlog from each store. The DynamoDB figures are moto's (see the README): a Python server
//! that applies one request at a time and copies a table for every transaction, so they say
//! what the adapter costs in requests, not what DynamoDB itself would do.

use std::{collections::HashMap, time::Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use serde_json::{Value, json};
use tidings_core::{BoxError, Envelope, OutboxRepository, Transactional};
use tidings_dynamodb::{DynamoBackend, Tables};
use tidings_kafka::{KafkaConfig, KafkaPublisher};
use tidings_relay::Relay;
use tidings_testkit::unique;
use tidings_uow::UnitOfWork;
use tokio_util::sync::CancellationToken;

use crate::{
    fixture::{self, BenchEvent, Verification},
    measure::{Counted, Latency, insert_and_stage, latency, relay_config},
};

/// The business table of the DynamoDB runs.
const ACCOUNTS: &str = "accounts";

async fn backend() -> DynamoBackend {
    let prefix = unique("bench").replace('-', "_");
    let backend = DynamoBackend::from_env()
        .await
        .with_tables(Tables::prefixed(&prefix).expect("table prefix"));
    backend.create_tables().await.expect("create tables");
    backend
        .client()
        .create_table()
        .table_name(format!("{prefix}_{ACCOUNTS}"))
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .send()
        .await
        .expect("create the accounts table");
    backend
}

fn accounts(backend: &DynamoBackend) -> String {
    backend
        .tables()
        .outbox()
        .replace("tidings_outbox", ACCOUNTS)
}

async fn drop_backend(backend: &DynamoBackend) {
    let _ = backend.delete_tables().await;
    let _ = backend
        .client()
        .delete_table()
        .table_name(accounts(backend))
        .send()
        .await;
}

/// Commit latency of `commits` units of work, one business write and one event each, on
/// PostgreSQL and on DynamoDB, interleaved so that both see the same machine.
async fn commit_latencies(url: &str, commits: u32) -> (Latency, Latency) {
    let pg = fixture::schema(url, 2).await;
    let insert = format!(
        "INSERT INTO \"{}\".accounts (owner, balance) VALUES ($1, $2)",
        pg.schema().schema()
    );
    let pg_uow = UnitOfWork::new(pg.clone());
    let dynamo = backend().await;
    let table = accounts(&dynamo);
    let dynamo_uow = UnitOfWork::new(dynamo.clone());
    let (mut pg_samples, mut dynamo_samples) = (Vec::new(), Vec::new());
    for n in 0..commits {
        let started = Instant::now();
        insert_and_stage(&pg_uow, &insert, n).await;
        pg_samples.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        dynamo_uow
            .run(async |work| {
                work.transaction().put(
                    &table,
                    HashMap::from([
                        ("id".to_owned(), AttributeValue::S(format!("account-{n}"))),
                        ("balance".to_owned(), AttributeValue::N(n.to_string())),
                    ]),
                )?;
                work.stage(&BenchEvent::new("bench", format!("key-{n}"), 0))?;
                Ok::<_, BoxError>(())
            })
            .await
            .expect("DynamoDB unit of work");
        dynamo_samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    fixture::drop_schema(&pg).await;
    drop_backend(&dynamo).await;
    (latency(pg_samples), latency(dynamo_samples))
}

/// Stages `count` events into DynamoDB, 25 keys per transaction (50 items with their key
/// items).
async fn stage_backlog(backend: &DynamoBackend, topic: &str, count: u64) {
    let mut n = 0;
    while n < count {
        let batch: Vec<Envelope> = (n..(n + 25).min(count))
            .map(|i| fixture::envelope(topic, i))
            .collect();
        let mut tx = backend.begin().await.expect("begin");
        backend.stage(&mut tx, &batch).await.expect("stage");
        backend.commit(tx).await.expect("commit");
        n += batch.len() as u64;
    }
}

/// Drains a DynamoDB backlog of `count` events to Kafka; events/s and what reached the topic.
async fn dynamo_drain(kafka: &KafkaConfig, count: u64, workers: usize) -> (f64, Verification) {
    let backend = backend().await;
    let topic = fixture::topic(kafka).await;
    stage_backlog(&backend, &topic, count).await;
    let publisher = Counted::new(KafkaPublisher::new(kafka).expect("publisher"));
    let started = Instant::now();
    let shutdown = CancellationToken::new();
    let relay = Relay::new(
        backend.clone(),
        publisher.clone(),
        relay_config("dynamo-drain", workers).with_retention(None),
    );
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { relay.run(shutdown).await }
    });
    while publisher.published() < count {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    running.await.expect("relay");
    let check = (kafka.clone(), topic.clone());
    let verification =
        tokio::task::spawn_blocking(move || fixture::verify(&check.0, &check.1, count))
            .await
            .expect("verify");
    fixture::delete_topic(kafka, &topic).await;
    drop_backend(&backend).await;
    (count as f64 / elapsed.as_secs_f64(), verification)
}

/// Every DynamoDB figure with its PostgreSQL counterpart.
pub(crate) async fn figures(
    url: &str,
    kafka: &KafkaConfig,
    commits: u32,
    backlog: u64,
    workers: usize,
) -> Value {
    let (pg_commit, dynamo_commit) = commit_latencies(url, commits).await;
    let (pg_drain, pg_check) = crate::measure::relay_drain(
        url,
        kafka,
        backlog,
        workers,
        tidings_postgres::PublishedRows::Keep,
    )
    .await;
    let (dynamo_drain, dynamo_check) = dynamo_drain(kafka, backlog, workers).await;
    json!({
        "server": "moto 5.2.5, one request at a time",
        "commit_latency_one_write_one_event": { "postgres": pg_commit, "dynamodb": dynamo_commit },
        "relay_drain": {
            "backlog": backlog,
            "postgres": { "events_per_s": pg_drain, "verification": pg_check },
            "dynamodb": { "events_per_s": dynamo_drain, "verification": dynamo_check },
        },
    })
}
