//! PostgreSQL unit of work → relays → Kafka (Tansu) → consumer with a PostgreSQL inbox, against
//! real servers. Each test prints lost / duplicated / out-of-order counts and asserts that
//! nothing is lost and nothing is out of order.

use std::time::Duration;

use tidings::{
    OutboxRepository,
    cloudevents::Record,
    kafka::{KafkaConfig, KafkaPublisher},
};
use tidings_tests::{Pipeline, PrivateBroker, Stalling};
use tokio_util::sync::CancellationToken;

const WITHIN: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_relays_one_killed_every_event_applied_once_in_order() {
    let Some(pipeline) = Pipeline::new(None).await else {
        return;
    };
    let (keys, per_key) = (20, 50);
    let shutdown = CancellationToken::new();
    let publisher = || KafkaPublisher::new(&pipeline.kafka).expect("publisher");
    let stalling = Stalling(publisher(), Duration::from_millis(300));
    // A fifth of the events first, with the doomed relay alone: it holds each batch for 300 ms,
    // so it is certain to hold leases when it is killed. (Waiting for it to hold leases while
    // two fast relays ran beside it could wait for ever once they had sent everything.)
    pipeline.produce_more(keys, 0, per_key / 5).await;
    let doomed = pipeline.spawn_relay("relay-doomed", stalling, shutdown.clone());
    while pipeline.leased_by("relay-doomed").await == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The others start while it holds them; what it leased must come back to them when its
    // lease runs out.
    let survivors = [
        pipeline.spawn_relay("relay-a", publisher(), shutdown.clone()),
        pipeline.spawn_relay("relay-b", publisher(), shutdown.clone()),
    ];
    doomed.abort();
    println!(
        "killed relay-doomed holding {} leases",
        pipeline.leased_by("relay-doomed").await
    );
    pipeline.produce_more(keys, per_key / 5, per_key).await;
    let duplicated = pipeline
        .consume(
            pipeline.consumer(),
            |r| r.applied >= u64::from(keys * per_key),
            WITHIN,
        )
        .await;
    shutdown.cancel();
    for relay in survivors {
        relay.await.expect("relay");
    }
    let audit = pipeline.audit(keys, per_key, duplicated).await;
    assert_eq!(audit.lost, 0);
    assert_eq!(audit.out_of_order, 0);
    assert_eq!(audit.applied, (keys * per_key) as usize);
    pipeline.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_delays_but_loses_nothing() {
    let Some(broker) = PrivateBroker::start().await else {
        return;
    };
    let kafka = KafkaConfig::new(&broker.bootstrap);
    let Some(pipeline) = Pipeline::new(Some(kafka)).await else {
        return;
    };
    let (keys, per_key) = (10, 40);
    let shutdown = CancellationToken::new();
    // Short delivery timeouts so that the outage turns into failed sends and retries.
    let publisher = KafkaPublisher::new(
        &pipeline
            .kafka
            .clone()
            .with_property("message.timeout.ms", "1500")
            .with_property("socket.timeout.ms", "1000"),
    )
    .expect("publisher");
    let relay = pipeline.spawn_relay("relay", publisher, shutdown.clone());
    pipeline.produce(keys, per_key / 2).await;
    broker.pause();
    pipeline.produce_more(keys, per_key / 2, per_key).await;
    // The outage is the fault being injected, not a wait for something to happen.
    tokio::time::sleep(Duration::from_secs(4)).await;
    broker.resume();
    let duplicated = pipeline
        .consume(
            pipeline.consumer(),
            |r| r.applied >= u64::from(keys * per_key),
            WITHIN,
        )
        .await;
    shutdown.cancel();
    relay.await.expect("relay");
    let audit = pipeline.audit(keys, per_key, duplicated).await;
    assert_eq!(audit.lost, 0);
    assert_eq!(audit.out_of_order, 0);
    pipeline.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_records_are_applied_once() {
    let Some(pipeline) = Pipeline::new(None).await else {
        return;
    };
    let (keys, per_key) = (5, 20);
    let shutdown = CancellationToken::new();
    let publisher = KafkaPublisher::new(&pipeline.kafka).expect("publisher");
    let relay = pipeline.spawn_relay("relay", publisher.clone(), shutdown.clone());
    pipeline.produce(keys, per_key).await;
    // Wait until everything is on the topic, then deliver a copy of every record whose
    // partition key ends in 1 or 3 again, as a producer retry or a replay would.
    let published = || pipeline.backend.stats();
    while published().await.expect("stats").published < u64::from(keys * per_key) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    relay.await.expect("relay");
    let records = pipeline.read_all(keys * per_key).await;
    let copies: Vec<&Record> = records
        .iter()
        .filter(|r| {
            r.key
                .as_deref()
                .is_some_and(|k| k.ends_with(b"1") || k.ends_with(b"3"))
        })
        .collect();
    for record in &copies {
        publisher.send_record(record).await.expect("redeliver");
    }
    let total = u64::from(keys * per_key) + copies.len() as u64;
    let duplicated = pipeline
        .consume(pipeline.consumer(), |r| r.processed() >= total, WITHIN)
        .await;
    let audit = pipeline.audit(keys, per_key, duplicated).await;
    assert_eq!(audit.lost, 0);
    assert_eq!(audit.out_of_order, 0);
    assert_eq!(
        audit.applied,
        (keys * per_key) as usize,
        "a duplicate was applied"
    );
    assert_eq!(
        audit.duplicated,
        copies.len() as u64,
        "every copy was recognised as one"
    );
    pipeline.clean_up().await;
}
