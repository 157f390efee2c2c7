//! Two producer processes on one MongoDB database, one with its clock a second ahead
//! (`faketime`), against real servers (SecantusDB, Tansu). Each runs units of work that increment
//! the counter document of one of five keys and stage a step carrying the new value, so per key
//! the values follow commit order. One relay then sends everything to Kafka; read back from the
//! topic, every key's values must arrive in increasing order, none lost.
//!
//! The relay starts once both producers are done, so every row is pending at once and the
//! relay's order is the sequences' order alone: a sequence taken from the producer's clock puts
//! the skewed producer's rows after later commits of the other (hundreds out of order).

use std::{collections::HashMap, process::Stdio, time::Duration};

use tidings::{
    OutboxRepository, cloudevents,
    kafka::{KafkaAdmin, KafkaConfig, KafkaPublisher},
    mongodb::{MongoBackend, Names},
    relay::{Relay, RelayConfig},
};
use tidings_tests::{PARTITIONS, Step, read_topic, server_from_env, unique};
use tokio::process::Command;

const KEYS: u32 = 5;
const UNITS_PER_PRODUCER: u32 = 300;
const SKEW: &str = "+1s";

/// The `faketime` program, or `None` (a skip) when it is missing, except under CI.
fn faketime() -> Option<&'static str> {
    let found = std::process::Command::new("faketime")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if found {
        return Some("faketime");
    }
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("faketime is not installed under CI: scripts/setup installs it");
    }
    eprintln!("skipped: faketime is not installed (scripts/setup installs it)");
    None
}

/// Runs `command` to its end and returns the clock it printed first, in microseconds.
async fn run_producer(mut command: Command, name: &str) -> i64 {
    let output = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output()
        .await
        .expect("start a producer");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "producer {name} failed ({}): {stdout}",
        output.status
    );
    assert!(
        stdout.contains(&format!("done {UNITS_PER_PRODUCER}")),
        "producer {name}: {stdout}"
    );
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("clock "))
        .and_then(|micros| micros.trim().parse().ok())
        .unwrap_or_else(|| panic!("producer {name} printed no clock: {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_producers_with_skewed_clocks_keep_order_per_key() {
    let Some(url) = server_from_env("MONGODB_URL") else {
        return;
    };
    let Some(bootstrap) = server_from_env("KAFKA_BOOTSTRAP_SERVERS") else {
        return;
    };
    let Some(faketime) = faketime() else {
        return;
    };
    let database = unique("skew").replace('-', "_");
    let backend = MongoBackend::connect(&url)
        .await
        .expect("connect to MONGODB_URL")
        .with_names(Names::in_database(&database).expect("database name"));
    backend.migrate().await.expect("migrate");
    let kafka = KafkaConfig::new(bootstrap);
    let topic = unique("counts");
    let admin = KafkaAdmin::new(&kafka).expect("admin");
    admin
        .ensure_topic(&topic, PARTITIONS)
        .await
        .expect("create topic");

    let producer = env!("CARGO_BIN_EXE_counting_producer");
    let args = [
        database.clone(),
        topic.clone(),
        KEYS.to_string(),
        UNITS_PER_PRODUCER.to_string(),
    ];
    let mut on_time = Command::new(producer);
    on_time.args(&args);
    let mut ahead = Command::new(faketime);
    ahead
        .args(["-f", SKEW, producer])
        .args(&args)
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    let (on_time_clock, ahead_clock) = tokio::join!(
        run_producer(on_time, "on time"),
        run_producer(ahead, "a second ahead")
    );
    // Both started within moments of each other: the skewed one must have seen its clock
    // run ahead, or this test would prove nothing.
    assert!(
        ahead_clock - on_time_clock > 500_000,
        "faketime did not move the clock: {ahead_clock} vs {on_time_clock}"
    );

    let total = usize::try_from(2 * UNITS_PER_PRODUCER).expect("count");
    let config = RelayConfig::default()
        .with_batch_size(100)
        .with_retention(None);
    let publisher = KafkaPublisher::new(&kafka).expect("publisher");
    let relay = Relay::new(backend.clone(), publisher, config);
    let drained = tokio::time::timeout(Duration::from_secs(120), relay.drain())
        .await
        .expect("the relay did not drain within 120 s")
        .expect("drain");
    assert_eq!(drained.total.published as usize, total, "{drained:?}");
    let stats = backend.stats().await.expect("stats");
    assert_eq!((stats.pending, stats.leased, stats.dead), (0, 0, 0));

    let mut by_key: HashMap<String, Vec<u32>> = HashMap::new();
    for record in read_topic(&kafka, &topic, PARTITIONS, total).await {
        let step: Step = cloudevents::decode(&record)
            .expect("a CloudEvent")
            .decode_json()
            .expect("a step");
        by_key.entry(step.account).or_default().push(step.n);
    }
    let mut out_of_order = 0;
    let mut lost = 0;
    for values in by_key.values() {
        out_of_order += values.windows(2).filter(|w| w[1] <= w[0]).count();
        let mut sorted = values.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let last = sorted.last().copied().unwrap_or(0) as usize;
        lost += last - sorted.len();
    }
    println!(
        "{total} events over {} keys: {lost} lost, {out_of_order} out of order",
        by_key.len()
    );
    assert_eq!(lost, 0, "a counter value never reached the topic");
    assert_eq!(
        out_of_order, 0,
        "a key's values arrived out of commit order"
    );

    let _ = admin.delete_topics(&[&topic]).await;
    backend
        .client()
        .database(&database)
        .drop()
        .await
        .expect("drop the test database");
}
