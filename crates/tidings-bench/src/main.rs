//! The Tidings benchmark: PostgreSQL outbox → relay → Kafka-protocol broker → consumer, against
//! the servers of `scripts/services` (`DATABASE_URL`, `KAFKA_BOOTSTRAP_SERVERS`). Prints one
//! table beside the figures the issue gives for another Rust outbox crate on this machine, and
//! writes every figure to `target/bench/results.json`. All payloads are 300 bytes.

mod drain;
mod dynamodb;
mod fixture;
mod measure;
mod mongo_staging;
mod persistent;
mod typed_staging;

use std::{path::PathBuf, process::Stdio, time::Duration};

use clap::{Parser, Subcommand};
use serde_json::json;
use tidings_kafka::{KafkaConfig, KafkaPublisher};
use tidings_relay::Relay;
use tokio::io::AsyncBufReadExt;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(about = "Benchmarks Tidings against PostgreSQL and Kafka")]
struct Args {
    /// Events in the backlog the relay and the SQL ceiling drain.
    #[arg(long, default_value_t = 100_000)]
    backlog: u64,
    /// Events in the backlog of the peak-RSS run.
    #[arg(long, default_value_t = 1_000_000)]
    rss_backlog: u64,
    /// Claim loops of the relay (`RelayConfig::workers`).
    #[arg(long, default_value_t = 4)]
    relay_workers: usize,
    /// Only these figures (comma-separated: ceilings, relay, latency, overhead, staging,
    /// typed, consumer, persistent, dynamodb, rss); the rest are reported as not measured.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Events in the backlog drained from DynamoDB and, for comparison, from PostgreSQL.
    #[arg(long, default_value_t = 1_000)]
    dynamodb_backlog: u64,
    /// Seconds of steady load for the latency figures.
    #[arg(long, default_value_t = 5)]
    latency_seconds: u64,
    /// Smaller sizes everywhere, for a quick check that the benchmark runs.
    #[arg(long)]
    quick: bool,
    /// Where the JSON goes.
    #[arg(long, default_value = "target/bench/results.json")]
    output: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// (internal) Runs only a relay over a prepared backlog, then prints its peak RSS.
    RelayOnly {
        #[arg(long)]
        schema: String,
        #[arg(long)]
        expect: u64,
    },
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!(
            "{name} is not set: run `just bench` (or scripts/bench), which starts the servers"
        );
        std::process::exit(2)
    })
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The child process of the RSS figure: a pool of two connections, one producer, one relay.
async fn relay_only(schema: &str, expect: u64) {
    let options: sqlx::postgres::PgConnectOptions =
        env("DATABASE_URL").parse().expect("DATABASE_URL");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .expect("connect");
    let backend = tidings_postgres::PostgresBackend::from_pool(pool)
        .with_schema(tidings_postgres::Schema::in_schema(schema).expect("schema"));
    let kafka = KafkaConfig::new(env("KAFKA_BOOTSTRAP_SERVERS"));
    let publisher = measure::Counted::new(KafkaPublisher::new(&kafka).expect("publisher"));
    let relay = Relay::new(
        backend.clone(),
        publisher.clone(),
        // The library's defaults: two workers, batches of 500.
        measure::relay_config("rss", 2).with_batch_size(500),
    );
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { relay.run(shutdown).await }
    });
    while publisher.published() < expect {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    running.await.expect("relay");
    println!("peak_rss_kib={}", peak_rss_kib());
}

async fn peak_rss_of_relay(url: &str, kafka: &KafkaConfig, count: u64) -> (f64, f64) {
    let backend = fixture::schema(url, 4).await;
    let topic = fixture::topic(kafka).await;
    fixture::stage_backlog(&backend, &topic, count).await;
    let started = std::time::Instant::now();
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("own path"))
        .args([
            "relay-only",
            "--schema",
            backend.schema().schema(),
            "--expect",
            &count.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the relay process");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut kib = 0;
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(value) = line.strip_prefix("peak_rss_kib=") {
            kib = value.parse().unwrap_or(0);
        }
    }
    let status = child.wait().await.expect("relay process");
    assert!(status.success(), "the relay process failed");
    let rate = count as f64 / started.elapsed().as_secs_f64();
    fixture::delete_topic(kafka, &topic).await;
    fixture::drop_schema(&backend).await;
    (kib as f64 / 1024.0, rate)
}

struct Row {
    name: &'static str,
    ours: String,
    reference: &'static str,
    target: &'static str,
    met: Option<bool>,
}

impl Row {
    /// A figure with no target of its own (a ceiling or a baseline).
    fn info(name: &'static str, ours: String) -> Self {
        Self {
            name,
            ours,
            reference: "-",
            target: "baseline",
            met: None,
        }
    }
}

fn main() {
    let args = Args::parse();
    if let Some(Command::RelayOnly { schema, expect }) = &args.command {
        // The relay is one task: a current-thread runtime is all it needs.
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(relay_only(schema, *expect));
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(benchmark(args));
}

async fn benchmark(mut args: Args) {
    if args.quick {
        args.backlog = args.backlog.min(10_000);
        args.rss_backlog = args.rss_backlog.min(20_000);
        args.latency_seconds = args.latency_seconds.min(2);
        args.dynamodb_backlog = args.dynamodb_backlog.min(200);
    }
    let url = env("DATABASE_URL");
    let kafka = KafkaConfig::new(env("KAFKA_BOOTSTRAP_SERVERS"));
    let step = |what: &str| eprintln!("bench: {what}…");

    let wants = |figure: &str| args.only.is_empty() || args.only.iter().any(|o| o == figure);
    let mut rows: Vec<Row> = Vec::new();
    let mut results = serde_json::Map::new();
    results.insert("payload_bytes".into(), json!(fixture::PAYLOAD_BYTES));
    results.insert("backlog".into(), json!(args.backlog));
    results.insert("relay_workers".into(), json!(args.relay_workers));

    let mut ceilings = drain::Ceilings::unmeasured();
    if wants("ceilings") {
        ceilings = drain::ceilings(&url, &kafka, args.backlog, &mut rows, &mut results).await;
    }
    if wants("relay") {
        let sizes = (args.backlog, args.relay_workers);
        drain::relay(&url, &kafka, sizes, ceilings, &mut rows, &mut results).await;
    }
    if wants("latency") {
        step("broker ack floor");
        let floor = measure::broker_ack_floor(&kafka, if args.quick { 50 } else { 300 }).await;
        step("latency at 1k events/s");
        let (to_ack, to_consumer, direct) = measure::latencies(
            &url,
            &kafka,
            1000,
            Duration::from_secs(args.latency_seconds),
            args.relay_workers,
        )
        .await;
        rows.push(Row {
            name: "commit -> broker ack p50/p99 (ms)",
            ours: format!("{:.1} / {:.1}", to_ack.p50_ms, to_ack.p99_ms),
            reference: "-",
            target: "p50 <= 3, p99 <= 10",
            met: Some(to_ack.p50_ms <= 3.0 && to_ack.p99_ms <= 10.0),
        });
        rows.push(Row::info(
            "  broker ack floor, 1 record awaited p50/p99 (ms)",
            format!("{:.1} / {:.1}", floor.p50_ms, floor.p99_ms),
        ));
        rows.push(Row {
            name: "commit -> consumer p50/p99 (ms)",
            ours: format!("{:.1} / {:.1}", to_consumer.p50_ms, to_consumer.p99_ms),
            reference: "6.4 / 18.3",
            target: "better than reference",
            met: Some(to_consumer.p50_ms < 6.4 && to_consumer.p99_ms < 18.3),
        });
        rows.push(Row::info(
            "  direct producer -> consumer p50/p99 (ms)",
            format!("{:.1} / {:.1}", direct.p50_ms, direct.p99_ms),
        ));
        results.insert(
            "latency_at_1k_per_s".into(),
            json!({
                "commit_to_broker_ack": to_ack, "commit_to_consumer": to_consumer,
                "direct_producer_to_consumer": direct, "broker_ack_floor_single_record": floor,
            }),
        );
    }
    if wants("overhead") {
        step("one-row transaction with and without staging");
        let (plain_ms, staged_ms) =
            measure::transaction_overhead(&url, if args.quick { 300 } else { 2000 }).await;
        let overhead = staged_ms / plain_ms;
        rows.push(Row {
            name: "one-row tx, +1 staged event (ms, ratio)",
            ours: format!("{plain_ms:.2} -> {staged_ms:.2} ({overhead:.2}x)"),
            reference: "1.45x",
            target: "<= 1.25x",
            met: Some(overhead <= 1.25),
        });
        results.insert(
            "one_row_transaction_ms".into(),
            json!({ "without_event": plain_ms, "with_one_event": staged_ms, "ratio": overhead }),
        );
    }
    if wants("staging") {
        step("staging throughput, 100 events per transaction");
        let transactions = if args.quick { 100 } else { 1000 };
        let one = measure::staging(&url, transactions, 100, 1).await;
        let two = measure::staging(&url, transactions, 100, 2).await;
        let server = measure::server_insert_ceiling(&url, transactions, 100).await;
        rows.push(Row {
            name: "staging, 100/tx, 1 | 2 connections (events/s)",
            ours: format!("{one:.0} | {two:.0}"),
            reference: "43,000",
            target: ">= 100,000",
            met: Some(one.max(two) >= 100_000.0),
        });
        rows.push(Row::info(
            "  server-only insert ceiling, 1 connection",
            format!("{server:.0}"),
        ));
        let mut staging = json!({
            "one_connection": one, "two_connections": two,
            "server_only_insert_ceiling": server,
        });
        if let Ok(mongo_url) = std::env::var("MONGODB_URL") {
            step("MongoDB staging, 100 events per transaction");
            let mongo = mongo_staging::staging_figures(&mongo_url, transactions / 10).await;
            let rate = |figure: &str| format!("{:.0}", mongo[figure].as_f64().unwrap_or(f64::NAN));
            rows.push(Row::info(
                "  MongoDB, 100/tx: 100 keys | 1 key (events/s)",
                format!(
                    "{} | {}",
                    rate("uow_100_keys_per_tx_events_per_s"),
                    rate("uow_one_key_per_tx_events_per_s")
                ),
            ));
            rows.push(Row::info(
                "  MongoDB, rows alone, clock-numbered (old)",
                rate("insert_many_only_clock_sequences_events_per_s"),
            ));
            staging["mongodb"] = mongo;
        }
        results.insert("staging_100_per_tx_events_per_s".into(), staging);
    }
    if wants("typed") {
        step("staging by hand, derived, through Events and through an attribute");
        let transactions = if args.quick { 30 } else { 300 };
        let typed = typed_staging::typed_staging(&url, transactions).await;
        for (name, run) in [
            (
                "staging 100/tx, PostgreSQL: by hand | derived | Events | attribute (events/s)",
                typed.postgres,
            ),
            (
                "staging 100/tx, in memory (CPU only): by hand | derived | Events | attribute",
                typed.memory,
            ),
        ] {
            let [derived, publisher, attribute] = run.ratios();
            rows.push(Row {
                name,
                ours: format!(
                    "{:.0} | {:.0} ({derived:.2}x) | {:.0} ({publisher:.2}x) | {:.0} ({attribute:.2}x)",
                    run.by_hand, run.derived, run.publisher, run.attribute
                ),
                reference: "-",
                target: ">= 0.95x by hand",
                met: Some(derived >= 0.95 && publisher >= 0.95 && attribute >= 0.95),
            });
        }
        results.insert("typed_staging_100_per_tx_events_per_s".into(), json!(typed));
    }
    if wants("consumer") {
        step("consumer throughput with and without the inbox");
        let (with_inbox, without_inbox) =
            measure::consumer_throughput(&url, &kafka, if args.quick { 2_000 } else { 20_000 })
                .await;
        let ratio = with_inbox / without_inbox;
        rows.push(Row {
            name: "consumer with / without inbox (events/s)",
            ours: format!("{with_inbox:.0} / {without_inbox:.0} ({ratio:.2}x)"),
            reference: "-",
            target: ">= 0.7x",
            met: Some(ratio >= 0.7),
        });
        results.insert(
            "consumer_events_per_s".into(),
            json!({ "with_inbox": with_inbox, "without_inbox": without_inbox, "ratio": ratio }),
        );
    }
    if wants("persistent") {
        step("persistent publisher against plain Kafka publishing");
        let mongo_url = std::env::var("MONGODB_URL").ok();
        let (one_by_one, batched) = if args.quick {
            (200, 2_000)
        } else {
            (2_000, 20_000)
        };
        let figures =
            persistent::figures(&url, mongo_url.as_deref(), &kafka, one_by_one, batched).await;
        let cell = |call: &str, figure: &str| {
            ["kafka", "postgres", "mongodb"]
                .iter()
                .map(|store| {
                    figures[store][call][figure]
                        .as_f64()
                        .map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"))
                })
                .collect::<Vec<_>>()
                .join(" | ")
        };
        for (name, call, figure) in [
            (
                "publish 1 by 1, kafka|pg|mongo (events/s)",
                "publish",
                "events_per_s",
            ),
            ("  client CPU per event (us)", "publish", "cpu_us_per_event"),
            (
                "publish_many 100, kafka|pg|mongo (events/s)",
                "publish_many_100",
                "events_per_s",
            ),
            (
                "  client CPU per event (us)",
                "publish_many_100",
                "cpu_us_per_event",
            ),
        ] {
            rows.push(Row::info(name, cell(call, figure)));
        }
        results.insert("persistent_publisher".into(), figures);
    }
    if wants("dynamodb") {
        step("DynamoDB beside PostgreSQL: unit-of-work commit latency and relay drain");
        env("AWS_ENDPOINT_URL_DYNAMODB");
        let commits = if args.quick { 50 } else { 300 };
        let figures = dynamodb::figures(
            &url,
            &kafka,
            commits,
            args.dynamodb_backlog,
            args.relay_workers,
        )
        .await;
        let commit = &figures["commit_latency_one_write_one_event"];
        let ms = |store: &str| {
            format!(
                "{:.1} / {:.1}",
                commit[store]["p50_ms"].as_f64().unwrap_or(f64::NAN),
                commit[store]["p99_ms"].as_f64().unwrap_or(f64::NAN)
            )
        };
        rows.push(Row::info(
            "uow commit p50/p99, PostgreSQL (ms)",
            ms("postgres"),
        ));
        rows.push(Row::info(
            "uow commit p50/p99, DynamoDB on moto (ms)",
            ms("dynamodb"),
        ));
        let drain = &figures["relay_drain"];
        let rate = |store: &str| {
            let v = &drain[store]["verification"];
            format!(
                "{:.0} ({} lost, {} out of order)",
                drain[store]["events_per_s"].as_f64().unwrap_or(f64::NAN),
                v["lost"],
                v["out_of_order"]
            )
        };
        rows.push(Row::info(
            "relay drain, PostgreSQL (events/s)",
            rate("postgres"),
        ));
        rows.push(Row::info(
            "relay drain, DynamoDB on moto (events/s)",
            rate("dynamodb"),
        ));
        results.insert("dynamodb_beside_postgres".into(), figures);
    }
    if wants("rss") {
        step("peak RSS of a relay-only process");
        let (rss_mib, rss_rate) = peak_rss_of_relay(&url, &kafka, args.rss_backlog).await;
        rows.push(Row {
            name: "peak RSS, relay-only process (MiB)",
            ours: format!(
                "{rss_mib:.1} ({} events at {rss_rate:.0}/s)",
                args.rss_backlog
            ),
            reference: "9",
            target: "<= 16",
            met: Some(rss_mib <= 16.0),
        });
        results.insert(
            "relay_only_process".into(),
            json!({ "peak_rss_mib": rss_mib, "backlog": args.rss_backlog, "events_per_s": rss_rate }),
        );
    }
    results.insert(
        "reference_other_crate".into(),
        json!({
            "relay_drain_events_per_s": 5300, "staging_100_per_tx_events_per_s": 43000,
            "one_row_tx_overhead_ratio": 1.45, "commit_to_consumer_p50_ms": 6.4,
            "commit_to_consumer_p99_ms": 18.3, "relay_rss_mib": 9
        }),
    );
    let results = serde_json::Value::Object(results);
    println!();
    println!(
        "Tidings benchmark: PostgreSQL 15 + Tansu on this machine, 300-byte events, backlog {}",
        args.backlog
    );
    println!(
        "{:<50} {:<34} {:<14} {:<30} met",
        "figure", "measured", "reference", "target"
    );
    for row in &rows {
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        println!(
            "{:<50} {:<34} {:<14} {:<30} {met}",
            row.name, row.ours, row.reference, row.target
        );
    }
    if let Some(dir) = args.output.parent() {
        std::fs::create_dir_all(dir).expect("create output directory");
    }
    std::fs::write(
        &args.output,
        serde_json::to_vec_pretty(&results).expect("JSON"),
    )
    .expect("write results");
    println!("\nwritten to {}", args.output.display());
}
