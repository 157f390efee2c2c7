//! Writers in two processes whose clocks differ by a second, on every backend: each bumps a
//! counter per key in its unit of work and stages the counter's value, so per key the values
//! follow commit order. The daemon starts once both are done, so every row is pending at once
//! and the order it sends is the sequences' order alone: a sequence taken from the writer's
//! clock puts the skewed writer's rows after later commits of the other.

use std::{
    collections::{BTreeSet, HashMap},
    path::Path,
    process::Stdio,
    time::Instant,
};

use tidings::kafka::{KafkaAdmin, KafkaConfig};
use tidings_testkit::{env::unique_ident, server_from_env};
use tokio::process::Command;

use super::{Row, Suite, Tally, audit::read_everything, daemon::DaemonSpec, scenarios::EXIT_LIMIT};
use crate::{PARTITIONS, unique};

/// Keys the writers share: few, so that they contend.
const KEYS: u32 = 5;
/// How far ahead the second writer's clock runs.
const SKEW: &str = "+1s";

/// Where one backend's outbox lives for a run: what the producer and the daemon are told.
struct Place {
    backend: &'static str,
    /// The producer's TARGET: a schema, a file, a database, a table prefix.
    target: String,
    /// The daemon's `--outbox`.
    outbox: String,
    /// The daemon's variables naming the target.
    env: Vec<(String, String)>,
}

/// A place on each backend whose server is configured (SQLite's is a file in `dir`).
fn places(dir: &Path) -> Vec<Place> {
    let mut places = Vec::new();
    if let Some(url) = server_from_env("DATABASE_URL") {
        let schema = unique_ident("skew");
        places.push(Place {
            backend: "postgres",
            env: vec![("TIDINGS_POSTGRES__SCHEMA".into(), schema.clone())],
            target: schema,
            outbox: url,
        });
    }
    let file = dir.join("skew.db").display().to_string();
    places.push(Place {
        backend: "sqlite",
        outbox: format!("sqlite://{file}"),
        target: file,
        env: Vec::new(),
    });
    if let Some(url) = server_from_env("MONGODB_URL") {
        let database = unique_ident("skew");
        places.push(Place {
            backend: "mongodb",
            env: vec![("TIDINGS_MONGODB__DATABASE".into(), database.clone())],
            target: database,
            outbox: url,
        });
    }
    if let Some(endpoint) = server_from_env("AWS_ENDPOINT_URL_DYNAMODB") {
        let prefix = unique_ident("skew");
        let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
        places.push(Place {
            backend: "dynamodb",
            env: vec![("TIDINGS_DYNAMODB__TABLE_PREFIX".into(), prefix.clone())],
            target: prefix,
            outbox: format!("dynamodb://{host}"),
        });
    }
    places
}

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
    if tidings_testkit::env::under_ci() {
        panic!("faketime is not installed under CI: scripts/setup installs it");
    }
    eprintln!("skipped: faketime is not installed (scripts/setup installs it)");
    None
}

/// One row per configured backend.
pub(super) async fn skewed_clocks(suite: &Suite) -> Vec<Row> {
    let Some(bootstrap) = server_from_env("KAFKA_BOOTSTRAP_SERVERS") else {
        return Vec::new();
    };
    let Some(faketime) = faketime() else {
        return Vec::new();
    };
    let kafka = KafkaConfig::new(bootstrap);
    let dir = tempfile::tempdir().expect("a directory for SQLite and logs");
    let mut rows = Vec::new();
    for place in places(dir.path()) {
        let row = skewed_on(suite, &place, &kafka, faketime, dir.path()).await;
        println!("{}", super::line(&row));
        rows.push(row);
    }
    if rows.iter().any(|row| !row.passed) {
        let kept = dir.keep();
        eprintln!("skewed clocks: daemon logs kept in {}", kept.display());
    }
    rows
}

async fn skewed_on(
    suite: &Suite,
    place: &Place,
    kafka: &KafkaConfig,
    faketime: &str,
    logs: &Path,
) -> Row {
    let producer = Producer {
        binary: &suite.producer,
        place,
    };
    producer.run(&["setup"], None).await;
    let topic = unique("counts");
    let admin = KafkaAdmin::new(kafka).expect("admin");
    admin
        .ensure_topic(&topic, PARTITIONS)
        .await
        .expect("create topic");
    let started = Instant::now();
    let (keys, units) = (KEYS.to_string(), suite.scale.units_per_writer.to_string());
    let count = ["count", topic.as_str(), keys.as_str(), units.as_str()];
    let (on_time, ahead) = tokio::join!(
        producer.run(&count, None),
        producer.run(&count, Some(faketime))
    );
    let skew = (ahead.clock - on_time.clock) as f64 / 1e6;
    let expected = merge(&on_time.counts, &ahead.counts);
    let written = 2 * suite.scale.units_per_writer as usize;
    let numbered: usize = expected.values().map(BTreeSet::len).sum();

    let spec = DaemonSpec {
        binary: suite.daemon.clone(),
        outbox: place.outbox.clone(),
        place: place.env.clone(),
        bootstrap: kafka.bootstrap_servers.clone(),
        logs: logs.to_path_buf(),
        settings: vec![("TIDINGS_RELAY__BATCH_SIZE", "100")],
    };
    let daemon = spec.start(&format!("skew-{}", place.backend));
    let records = read_everything(kafka, &topic, PARTITIONS, numbered).await;
    let exit = daemon.terminate(EXIT_LIMIT).await;
    let seconds = started.elapsed().as_secs_f64();
    let tally = Tally::of(&records, &expected);
    let _ = admin.delete_topics(&[&topic]).await;
    producer.run(&["drop"], None).await;
    let detail = format!(
        "2 writers x {units} units on {KEYS} counters, clocks {skew:.2} s apart; \
         {numbered} values for {written} units; daemon {exit}"
    );
    let checks = skew > 0.5 && numbered == written && exit.success();
    let name = format!("clocks 1 s apart: {}", place.backend);
    Row::of(&name, &tally, seconds, detail, checks)
}

/// What a `count` run printed.
struct Counted {
    clock: i64,
    counts: HashMap<String, u32>,
}

/// `values 1..=n` for each key's highest value `n` of either writer.
fn merge(a: &HashMap<String, u32>, b: &HashMap<String, u32>) -> HashMap<String, BTreeSet<u32>> {
    let mut highest = a.clone();
    for (key, &n) in b {
        let entry = highest.entry(key.clone()).or_default();
        *entry = (*entry).max(n);
    }
    highest
        .into_iter()
        .map(|(key, n)| (key, (1..=n).collect()))
        .collect()
}

/// The `counting_producer` program on one place.
struct Producer<'a> {
    binary: &'a Path,
    place: &'a Place,
}

impl Producer<'_> {
    /// Runs `command` to its end, under `faketime` `SKEW` when given, and reads what it printed.
    async fn run(&self, command: &[&str], faketime: Option<&str>) -> Counted {
        let mut process = match faketime {
            None => Command::new(self.binary),
            Some(faketime) => {
                let mut process = Command::new(faketime);
                process
                    .args(["-f", SKEW])
                    .arg(self.binary)
                    .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
                process
            }
        };
        let output = process
            .args([self.place.backend, self.place.target.as_str()])
            .args(command)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output()
            .await
            .expect("start counting_producer");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "counting_producer {} {command:?} failed ({}): {stdout}{}",
            self.place.backend,
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        parse(&stdout)
    }
}

fn parse(stdout: &str) -> Counted {
    let mut counted = Counted {
        clock: 0,
        counts: HashMap::new(),
    };
    for line in stdout.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["clock", micros] => counted.clock = micros.parse().expect("a clock"),
            ["count", key, n] => {
                counted
                    .counts
                    .insert((*key).to_owned(), n.parse().expect("a count"));
            }
            _ => {}
        }
    }
    counted
}
