//! DynamoDB unit of work → two relays → Kafka (Tansu) → consumer with a DynamoDB inbox, against
//! real servers (moto for DynamoDB). The relays send every batch twice, as a producer retry
//! would, so every event reaches the consumer at least twice and the inbox must skip the copies.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use tidings::{
    BoxError, Envelope, EventPublisher, RetryPolicy, Work,
    dynamodb::{DynamoBackend, DynamoTransaction, DynamoUnitOfWork, Tables},
    kafka::{ConsumerConfig, EventHandler, KafkaAdmin, KafkaConfig, KafkaConsumer, KafkaPublisher},
    relay::{Relay, RelayConfig},
};
use tidings_tests::{Audit, PARTITIONS, Step, server_from_env, unique};
use tokio_util::sync::CancellationToken;

/// Applies steps into a DynamoDB table, numbering them in the order they are applied.
struct Ledger {
    table: String,
    order: Arc<AtomicI64>,
}

impl EventHandler<DynamoTransaction> for Ledger {
    async fn handle(
        &self,
        work: &mut Work<DynamoTransaction>,
        event: &Envelope,
    ) -> Result<(), BoxError> {
        let step: Step = event.decode_json()?;
        let applied = self.order.fetch_add(1, Ordering::SeqCst);
        work.transaction().put(
            &self.table,
            HashMap::from([
                (
                    "event_id".to_owned(),
                    AttributeValue::S(event.id.to_string()),
                ),
                ("account".to_owned(), AttributeValue::S(step.account)),
                ("n".to_owned(), AttributeValue::N(step.n.to_string())),
                ("applied".to_owned(), AttributeValue::N(applied.to_string())),
            ]),
        )?;
        Ok(())
    }
}

/// Sends every batch twice.
struct Doubling(KafkaPublisher);

impl EventPublisher for Doubling {
    async fn publish_batch(&self, envelopes: &[Envelope]) -> Vec<tidings::Result<()>> {
        let first = self.0.publish_batch(envelopes).await;
        if first.iter().any(Result::is_err) {
            return first;
        }
        self.0.publish_batch(envelopes).await
    }
}

async fn create_ledger(backend: &DynamoBackend, table: &str) {
    backend
        .client()
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("event_id")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("event_id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .send()
        .await
        .expect("create ledger table");
}

/// The ledger's (account, step) pairs in the order they were applied.
async fn applied(backend: &DynamoBackend, table: &str) -> Vec<(String, i64)> {
    let mut rows: Vec<(i64, String, i64)> = Vec::new();
    let mut start = None;
    loop {
        let page = backend
            .client()
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .expect("scan ledger");
        for item in page.items() {
            let number = |name: &str| {
                item[name]
                    .as_n()
                    .expect("number")
                    .parse::<i64>()
                    .expect("integer")
            };
            let account = item["account"].as_s().expect("account").clone();
            rows.push((number("applied"), account, number("n")));
        }
        match page.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => break,
        }
    }
    rows.sort();
    rows.into_iter()
        .map(|(_, account, n)| (account, n))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_outbox_to_kafka_to_dynamodb_inbox_applies_every_event_once_in_order() {
    if server_from_env("AWS_ENDPOINT_URL_DYNAMODB").is_none() {
        return;
    }
    let Some(bootstrap) = server_from_env("KAFKA_BOOTSTRAP_SERVERS") else {
        return;
    };
    let kafka = KafkaConfig::new(bootstrap);
    let prefix = unique("e2e").replace('-', "_");
    let backend = DynamoBackend::from_env()
        .await
        .with_tables(Tables::prefixed(&prefix).expect("table prefix"));
    backend.create_tables().await.expect("create tables");
    let ledger_table = format!("{prefix}_ledger");
    create_ledger(&backend, &ledger_table).await;
    let topic = unique("steps");
    let admin = KafkaAdmin::new(&kafka).expect("admin");
    admin
        .ensure_topic(&topic, PARTITIONS)
        .await
        .expect("create topic");

    let shutdown = CancellationToken::new();
    let relay = |name: &str| {
        let publisher = Doubling(KafkaPublisher::new(&kafka).expect("publisher"));
        let config = RelayConfig::default()
            .with_owner(name)
            .with_batch_size(64)
            .with_lease(Duration::from_secs(5))
            // Commits in this process wake the relays; polling is the fallback, and every poll
            // of an idle outbox costs a query per shard.
            .with_poll_interval(Duration::from_secs(1))
            .with_retention(None)
            .with_retry(RetryPolicy::default().with_max_attempts(1000));
        let relay = Relay::new(backend.clone(), publisher, config);
        let shutdown = shutdown.clone();
        tokio::spawn(async move { relay.run(shutdown).await })
    };
    let relays = [relay("relay-a"), relay("relay-b")];

    let started = std::time::Instant::now();
    let (keys, per_key) = (10u32, 20u32);
    let uow = DynamoUnitOfWork::new(backend.clone());
    let steps: Vec<(u32, u32)> = (0..per_key)
        .flat_map(|n| (0..keys).map(move |k| (k, n)))
        .collect();
    for chunk in steps.chunks(10) {
        uow.run(async |work| {
            for (k, n) in chunk {
                work.stage(&Step::new(format!("acct-{k}"), *n, &topic))?;
            }
            Ok::<_, tidings::Error>(())
        })
        .await
        .expect("unit of work");
    }

    println!("staged in {:?}", started.elapsed());
    let total = u64::from(keys * per_key);
    let consumer = Arc::new(
        KafkaConsumer::new(
            &kafka,
            ConsumerConfig::new(unique("ledger"), &[&topic])
                .with_session_timeout(Duration::from_secs(6)),
            DynamoUnitOfWork::new(backend.clone()),
        )
        .expect("consumer"),
    );
    let mut progress = consumer.progress();
    let stop_consumer = CancellationToken::new();
    let ledger = Ledger {
        table: ledger_table.clone(),
        order: Arc::default(),
    };
    let running = tokio::spawn({
        let (consumer, stop) = (Arc::clone(&consumer), stop_consumer.clone());
        async move { consumer.run(&ledger, stop).await }
    });
    let reached = tokio::time::timeout(
        Duration::from_secs(120),
        progress.wait_for(|r| r.applied >= total && r.duplicates >= total),
    )
    .await;
    println!("consumed in {:?}", started.elapsed());
    shutdown.cancel();
    for relay in relays {
        relay.await.expect("relay");
    }
    stop_consumer.cancel();
    let report = running.await.expect("consumer task").expect("consumer run");
    assert!(reached.is_ok(), "not every event arrived: {report:?}");

    let audit = Audit::of(
        &applied(&backend, &ledger_table).await,
        total as usize,
        report.duplicates,
    );
    assert_eq!(audit.lost, 0);
    assert_eq!(audit.out_of_order, 0);
    assert_eq!(audit.applied, total as usize, "an event was applied twice");
    assert_eq!(report.applied, total);
    assert!(
        report.duplicates >= total,
        "every copy should have been skipped: {report:?}"
    );

    // librdkafka crashes on a deleted topic's metadata while a consumer is still subscribed.
    drop(consumer);
    let _ = admin.delete_topics(&[&topic]).await;
    backend.delete_tables().await.expect("delete tables");
    backend
        .client()
        .delete_table()
        .table_name(&ledger_table)
        .send()
        .await
        .expect("delete ledger table");
}
