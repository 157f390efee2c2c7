//! The `tidings` binary as a user runs it: bad configuration refused in one line naming the
//! key, and the daemon on the embedded default (a SQLite outbox, the `stdout` sink) relaying
//! what was staged, serving its endpoints, and stopping on SIGTERM with exit 0.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use serde::Serialize;
use tidings::{
    Message,
    sqlite::{SqliteBackend, SqliteUnitOfWork},
};
use tidings_cli::stdout::read_lines;
use tidings_testkit::scrape::series;

fn tidings() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tidings"));
    // The test servers' variables must not steer the daemon here.
    for var in [
        "KAFKA_BOOTSTRAP_SERVERS",
        "TIDINGS_OUTBOX",
        "TIDINGS_BROKER",
    ] {
        command.env_remove(var);
    }
    command
}

fn run(args: &[&str], dir: &std::path::Path) -> Output {
    tidings()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run tidings")
}

/// The one line a failed command printed.
fn refusal(output: &Output) -> String {
    assert!(!output.status.success(), "it succeeded: {output:?}");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    stderr
}

#[test]
fn bad_configuration_is_refused_in_one_line_naming_it() {
    let dir = tempfile::tempdir().expect("dir");
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.display().to_string()
    };
    let unknown = file("unknown.toml", "[relay]\nbatchsize = 3\n");
    let line = refusal(&run(&["--config", &unknown, "config", "check"], dir.path()));
    assert!(
        line.contains("batchsize") && line.contains("relay"),
        "{line}"
    );
    let bad = file("bad.toml", "[relay]\nlease = \"forever\"\n");
    let line = refusal(&run(&["--config", &bad, "config", "check"], dir.path()));
    assert!(
        line.contains("relay.lease") && line.contains("forever"),
        "{line}"
    );
    let mode = file("mode.toml", "[postgres]\npublished_rows = \"drop\"\n");
    let line = refusal(&run(&["--config", &mode, "config", "check"], dir.path()));
    assert!(
        line.contains("postgres.published_rows") && line.contains("drop"),
        "{line}"
    );
    let line = refusal(&run(&["--outbox", "redis://cache", "status"], dir.path()));
    assert!(line.contains("redis"), "{line}");
    let line = refusal(&run(&["relay", "--broker", "amqp://x"], dir.path()));
    assert!(line.contains("amqp://x"), "{line}");
    let line = refusal(&run(&["--config", "nowhere.toml", "status"], dir.path()));
    assert!(line.contains("nowhere.toml"), "{line}");
}

#[test]
fn config_check_hides_secrets_and_applies_precedence() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("tidings.toml");
    std::fs::write(
        &path,
        "outbox = \"postgres://app:hunter2@db/app\"\n[relay]\nbatch_size = 100\nworkers = 3\n",
    )
    .expect("write");
    let output = tidings()
        .args(["--config", path.to_str().expect("path"), "config", "check"])
        .env("TIDINGS_RELAY__BATCH_SIZE", "250")
        .env("KAFKA_SASL_PASSWORD", "s3cret")
        .output()
        .expect("run");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("s3cret"),
        "{shown}"
    );
    assert!(
        shown.contains("batch_size = 250"),
        "the variable wins: {shown}"
    );
    assert!(shown.contains("workers = 3"), "the file counts: {shown}");
    assert!(shown.contains("broker = \"stdout\""), "{shown}");
}

#[derive(Serialize)]
struct Greeting {
    to: String,
}

impl Message for Greeting {
    fn message_type(&self) -> &str {
        "test.greeting"
    }
    fn aggregate_id(&self) -> String {
        self.to.clone()
    }
    fn topic(&self) -> Option<&str> {
        Some("greetings")
    }
}

async fn stage_greetings(url: &str, names: &[&str]) {
    let backend = SqliteBackend::connect(url).await.expect("open");
    backend.migrate().await.expect("migrate");
    let uow = SqliteUnitOfWork::new(backend);
    for name in names {
        uow.run(async |work| {
            work.stage(&Greeting {
                to: (*name).to_owned(),
            })
        })
        .await
        .expect("stage");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `GET path` over plain HTTP/1.0: the status code and the body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let code = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((code, body))
}

fn wait_until<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stop(mut daemon: Child) -> std::process::ExitStatus {
    let terminated = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .expect("kill");
    assert!(terminated.success());
    wait_until(
        "the daemon to exit after SIGTERM",
        Duration::from_secs(30),
        || daemon.try_wait().expect("wait"),
    )
}

/// A binary event too large for the sink once base64-encoded in a CloudEvent's JSON, though
/// the outbox takes it: the relay dead-letters it.
async fn stage_a_blob(url: &str) {
    let backend = SqliteBackend::connect(url).await.expect("open");
    let uow = SqliteUnitOfWork::new(backend);
    let blob = tidings::Envelope::new(
        "greetings",
        "blob",
        "test.blob",
        "application/octet-stream",
        vec![7; 900_000],
    );
    uow.run(async |work| work.stage_envelope(blob))
        .await
        .expect("stage");
}

#[test]
fn the_daemon_relays_sqlite_to_stdout_serves_metrics_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/shop.db", dir.path().display());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        stage_greetings(&url, &["ada", "grace", "edsger"]).await;
        stage_a_blob(&url).await;
    });
    let port = free_port();
    let mut daemon = tidings()
        .args([
            "--outbox",
            &url,
            "relay",
            "--http",
            &format!("127.0.0.1:{port}"),
        ])
        // Purge at once and count often, so every series moves within the test.
        .env("TIDINGS_RELAY__RETENTION", "1ms")
        .env("TIDINGS_RELAY__MAINTENANCE_INTERVAL", "100ms")
        .env("TIDINGS_RELAY__QUEUE_DEPTH_INTERVAL", "100ms")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the daemon");
    let mut lines = BufReader::new(daemon.stdout.take().expect("stdout")).lines();
    let mut written = Vec::new();
    for _ in 0..3 {
        let line = lines.next().expect("a line").expect("readable");
        written.extend_from_slice(line.as_bytes());
        written.push(b'\n');
    }
    let events = read_lines(&written, "greetings").expect("structured CloudEvents");
    let keys: Vec<&str> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["ada", "grace", "edsger"]);

    let health = wait_until("/health", Duration::from_secs(10), || get(port, "/health"));
    assert_eq!(health.0, 200);
    assert_eq!(get(port, "/ready").map(|r| r.0), Some(200));
    let moved = |metrics: &str| {
        series(metrics, "outbox_events_published_total") == 3.0
            && series(metrics, "outbox_events_failed_total") == 1.0
            && series(metrics, "outbox_events_purged_total") >= 3.0
            && metrics.contains("outbox_queue_depth{status=\"dead\"} 1")
    };
    let (_, metrics) = wait_until("every series to move", Duration::from_secs(20), || {
        get(port, "/metrics").filter(|(_, body)| moved(body))
    });
    assert_eq!(
        series(&metrics, "outbox_event_age_seconds_count"),
        3.0,
        "{metrics}"
    );
    assert!(
        series(&metrics, "outbox_relay_processing_seconds_count") >= 4.0,
        "{metrics}"
    );
    assert!(
        series(&metrics, "outbox_relay_batch_seconds_count") >= 1.0,
        "{metrics}"
    );
    assert_eq!(
        stop(daemon).code(),
        Some(0),
        "SIGTERM should end it cleanly"
    );
    let status = run(&["--outbox", &url, "status", "--json"], dir.path());
    let counts: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(
        (counts["pending"].as_u64(), counts["dead"].as_u64()),
        (Some(0), Some(1))
    );
}

/// A daemon killed when dropped, so that a failing test leaves none running (they would hold
/// the test's output open).
#[cfg(feature = "kafka")]
struct Running(Option<Child>);

#[cfg(feature = "kafka")]
impl Running {
    fn stop(mut self) -> std::process::ExitStatus {
        stop(self.0.take().expect("a running daemon"))
    }
}

#[cfg(feature = "kafka")]
impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The outbox's counts, as `tidings status --json` prints them.
#[cfg(feature = "kafka")]
fn status_counts(url: &str, dir: &std::path::Path) -> serde_json::Value {
    let status = run(&["--outbox", url, "status", "--json"], dir);
    serde_json::from_slice(&status.stdout).expect("status --json")
}

/// A daemon whose broker is down (nothing listens on its port): each send times out, a
/// temporary error it counts, and `/ready` answers 503 naming the broker. When a second daemon
/// takes the row over after the first one's lease ran out, the first counts the lease it lost
/// as it settles.
#[cfg(feature = "kafka")]
#[test]
fn a_daemon_without_its_broker_counts_errors_and_the_lease_it_loses() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/shop.db", dir.path().display());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(stage_greetings(&url, &["ada"]));
    let config = dir.path().join("tidings.toml");
    // Sends give up after 4 s: well after the 1 s lease has run out.
    std::fs::write(
        &config,
        "[kafka.properties]\n\"message.timeout.ms\" = \"4000\"\n",
    )
    .expect("write the config");
    let (port, nowhere) = (free_port(), free_port());
    let relay = |owner: &str| {
        let mut command = tidings();
        command
            .env("TIDINGS_RELAY__OWNER", owner)
            .env("TIDINGS_RELAY__LEASE", "1s")
            .env("TIDINGS_RELAY__POLL_INTERVAL", "100ms")
            .args(["--outbox", &url, "relay"])
            .stderr(Stdio::inherit());
        command
    };
    // One worker, so that the row it holds is taken over by the other daemon, not by its own
    // second worker.
    let stuck = Running(Some(
        relay("stuck")
            .env("TIDINGS_RELAY__WORKERS", "1")
            .arg("--config")
            .arg(&config)
            .args(["--broker", &format!("kafka://127.0.0.1:{nowhere}")])
            .args(["--http", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .spawn()
            .expect("start the daemon without a broker"),
    ));
    wait_until("the row to be leased", Duration::from_secs(20), || {
        (status_counts(&url, dir.path())["leased"].as_u64() == Some(1)).then_some(())
    });
    let (code, reason) = wait_until("/ready", Duration::from_secs(10), || get(port, "/ready"));
    assert_eq!(code, 503, "{reason}");
    assert!(reason.contains("broker"), "{reason}");

    let mut child = relay("rescuer")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the daemon on stdout");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let rescuer = Running(Some(child));
    let line = lines.next().expect("a line").expect("readable");
    let events = read_lines(line.as_bytes(), "greetings").expect("a structured CloudEvent");
    assert_eq!(events[0].key, "ada");

    let counted = |metrics: &str| {
        series(metrics, "outbox_relay_lost_leases_total") >= 1.0
            && series(metrics, "outbox_relay_errors_total{kind=\"event\"}") >= 1.0
    };
    let (_, metrics) = wait_until(
        "the error and the lost lease",
        Duration::from_secs(20),
        || get(port, "/metrics").filter(|(_, body)| counted(body)),
    );
    assert_eq!(
        series(&metrics, "outbox_events_published_total"),
        0.0,
        "{metrics}"
    );
    assert_eq!(rescuer.stop().code(), Some(0));
    assert_eq!(stuck.stop().code(), Some(0));
    let counts = status_counts(&url, dir.path());
    assert_eq!(
        (counts["published"].as_u64(), counts["pending"].as_u64()),
        (Some(1), Some(0)),
        "{counts}"
    );
}

/// The daemon over real servers: a PostgreSQL outbox in a schema of its own (named through
/// the environment) relayed to Kafka.
#[cfg(all(feature = "postgres", feature = "kafka"))]
#[test]
fn the_daemon_relays_postgres_to_kafka() {
    use tidings::{
        kafka::KafkaConfig,
        postgres::{PostgresBackend, PostgresUnitOfWork, Schema},
    };
    use tidings_testkit::{kafka::TestTopic, server_from_env, unique_ident};

    let (Some(database), Some(bootstrap)) = (
        server_from_env("DATABASE_URL"),
        server_from_env("KAFKA_BOOTSTRAP_SERVERS"),
    ) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let kafka = KafkaConfig::new(&bootstrap);
    let schema = unique_ident("cli");
    let topic = runtime.block_on(async {
        let topic = TestTopic::create(&kafka, "cli", 1).await;
        let backend = PostgresBackend::connect(&database)
            .await
            .expect("connect")
            .with_schema(Schema::in_schema(&schema).expect("schema"));
        backend.migrate().await.expect("migrate");
        let uow = PostgresUnitOfWork::new(backend);
        for to in ["ada", "grace"] {
            let greeting = tidings::Envelope::new(
                topic.name.clone(),
                to,
                "test.greeting",
                "application/json",
                format!(r#"{{"to":"{to}"}}"#).into_bytes(),
            );
            uow.run(async |work| work.stage_envelope(greeting))
                .await
                .expect("stage");
        }
        topic
    });
    let daemon = tidings()
        .args([
            "--outbox",
            &database,
            "relay",
            "--broker",
            &format!("kafka://{bootstrap}"),
        ])
        .env("TIDINGS_POSTGRES__SCHEMA", &schema)
        .stdout(Stdio::null())
        .spawn()
        .expect("start the daemon");
    let records = runtime.block_on(topic.read(&kafka, 2));
    let keys: Vec<Vec<u8>> = records.iter().filter_map(|r| r.key.clone()).collect();
    assert_eq!(keys, [b"ada".to_vec(), b"grace".to_vec()]);
    assert_eq!(stop(daemon).code(), Some(0));
    runtime.block_on(async {
        topic.delete(&kafka).await;
        let pool = sqlx::PgPool::connect(&database).await.expect("connect");
        sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .execute(&pool)
            .await
            .expect("drop the test's schema");
    });
}

/// Two dead letters, of topics `alpha` and `beta`, made through the ports.
async fn two_dead_letters(url: &str) -> Vec<String> {
    use tidings::{ClaimRequest, OutboxRepository, Outcome, Settlement};
    let backend = SqliteBackend::connect(url).await.expect("open");
    backend.migrate().await.expect("migrate");
    let uow = SqliteUnitOfWork::new(backend.clone());
    for topic in ["alpha", "beta"] {
        let event =
            tidings::Envelope::new(topic, topic, "test.poison", "text/plain", b"x".to_vec());
        uow.run(async |work| work.stage_envelope(event))
            .await
            .expect("stage");
    }
    let claimed = backend
        .claim_batch(&ClaimRequest::new("test", 10, Duration::from_secs(30)))
        .await
        .expect("claim");
    let dead: Vec<Settlement> = claimed
        .iter()
        .map(|r| {
            let error = format!("{} refused", r.envelope.topic);
            Settlement::of(r, Outcome::DeadLetter { error })
        })
        .collect();
    backend
        .settle("test", chrono::Utc::now(), &dead)
        .await
        .expect("settle");
    claimed.iter().map(|r| r.envelope.id.to_string()).collect()
}

fn text(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn dead_letters_are_listed_shown_retried_and_purged_only_when_asked() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/shop.db", dir.path().display());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let ids = runtime.block_on(two_dead_letters(&url));
    let tidings = |args: &[&str]| {
        let mut all = vec!["--outbox", url.as_str(), "dead-letters"];
        all.extend_from_slice(args);
        run(&all, dir.path())
    };
    assert_eq!(text(&tidings(&["list", "--json"])).lines().count(), 2);
    let alpha = text(&tidings(&["list", "--topic", "alpha"]));
    assert!(
        alpha.contains("alpha refused") && !alpha.contains("beta"),
        "{alpha}"
    );
    let shown: serde_json::Value =
        serde_json::from_str(&text(&tidings(&["show", &ids[1]]))).expect("json");
    assert_eq!(shown["last_error"], "beta refused");
    let line = refusal(&tidings(&["show", "no-such-id"]));
    assert!(line.contains("no-such-id"), "{line}");
    let line = refusal(&tidings(&[
        "list",
        "--from",
        "2026-12-02T00:00:00Z",
        "--to",
        "2026-12-01T00:00:00Z",
    ]));
    assert!(line.contains("--from"), "{line}");

    let dry = text(&tidings(&["retry", "--topic", "alpha"]));
    assert!(dry.contains("would retry 1"), "{dry}");
    let dead = |dir: &std::path::Path| {
        let status = run(&["--outbox", &url, "status", "--json"], dir);
        serde_json::from_slice::<serde_json::Value>(&status.stdout).expect("json")["dead"].clone()
    };
    assert_eq!(
        dead(dir.path()),
        2,
        "a retry without --yes changed something"
    );
    assert!(text(&tidings(&["retry", "--topic", "alpha", "--yes"])).contains("retry: 1 of 1"));
    assert_eq!(dead(dir.path()), 1);
    assert!(text(&tidings(&["purge", "--yes"])).contains("purge: 1 of 1"));
    assert_eq!(dead(dir.path()), 0);
}

/// Three events published an hour ago (keys a, b, a on topic `orders`) and one pending on
/// `audit`, made through the ports; the published ones' ids in sequence order.
async fn published_an_hour_ago(url: &str) -> Vec<String> {
    use tidings::{ClaimRequest, OutboxRepository, Outcome, Settlement};
    let backend = SqliteBackend::connect(url).await.expect("open");
    backend.migrate().await.expect("migrate");
    let uow = SqliteUnitOfWork::new(backend.clone());
    for (key, n) in [("a", 1), ("b", 1), ("a", 2)] {
        let event = tidings::Envelope::new(
            "orders",
            key,
            "test.order",
            "text/plain",
            format!("{key}{n}").into_bytes(),
        );
        uow.run(async |work| work.stage_envelope(event))
            .await
            .expect("stage");
    }
    let claimed = backend
        .claim_batch(&ClaimRequest::new("test", 10, Duration::from_secs(30)))
        .await
        .expect("claim");
    let published: Vec<Settlement> = claimed
        .iter()
        .map(|r| Settlement::of(r, Outcome::Published))
        .collect();
    let an_hour_ago = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    backend
        .settle("test", an_hour_ago, &published)
        .await
        .expect("settle");
    let pending = tidings::Envelope::new("audit", "x", "test.audit", "text/plain", b"x".to_vec());
    uow.run(async |work| work.stage_envelope(pending))
        .await
        .expect("stage");
    claimed.iter().map(|r| r.envelope.id.to_string()).collect()
}

#[test]
fn status_is_per_topic_and_replay_resends_a_range_in_order_with_the_same_ids() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/shop.db", dir.path().display());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let ids = runtime.block_on(published_an_hour_ago(&url));
    let tidings = |args: &[&str]| {
        let mut all = vec!["--outbox", url.as_str()];
        all.extend_from_slice(args);
        run(&all, dir.path())
    };
    let status: serde_json::Value =
        serde_json::from_str(&text(&tidings(&["status", "--json"]))).expect("json");
    assert_eq!(
        (status["published"].as_u64(), status["pending"].as_u64()),
        (Some(3), Some(1))
    );
    let topics = status["topics"].as_array().expect("topics");
    assert_eq!(topics.len(), 2, "{status}");
    assert_eq!(
        (topics[0]["topic"].as_str(), topics[0]["pending"].as_u64()),
        (Some("audit"), Some(1))
    );
    assert!(
        topics[0]["oldest_pending_age_seconds"].as_i64().is_some(),
        "{status}"
    );
    assert_eq!(
        (topics[1]["topic"].as_str(), topics[1]["published"].as_u64()),
        (Some("orders"), Some(3))
    );
    assert!(topics[1]["last_published"].is_string(), "{status}");
    let table = text(&tidings(&["status"]));
    assert!(
        table.contains("orders") && table.contains("total"),
        "{table}"
    );

    let from = (chrono::Utc::now() - chrono::TimeDelta::hours(2)).to_rfc3339();
    let to = chrono::Utc::now().to_rfc3339();
    let replay = |extra: &[&str]| {
        let mut args = vec![
            "replay",
            "--from",
            from.as_str(),
            "--to",
            to.as_str(),
            "--broker",
            "stdout",
        ];
        args.extend_from_slice(extra);
        tidings(&args)
    };
    let dry = text(&replay(&[]));
    assert!(dry.contains("would replay 3 events"), "{dry}");
    let sent = replay(&["--yes"]);
    let events = read_lines(&sent.stdout, "orders").expect("structured CloudEvents");
    let resent: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(resent, ids, "not the same events in their original order");
    let only_b = replay(&["--yes", "--key", "b"]);
    assert_eq!(
        read_lines(&only_b.stdout, "orders").expect("events").len(),
        1
    );

    let line = refusal(&tidings(&[
        "replay",
        "--from",
        "2000-01-01T00:00:00Z",
        "--to",
        &to,
    ]));
    assert!(
        line.contains("retention") && line.contains("2000-01-01"),
        "{line}"
    );
    let line = refusal(&tidings(&["replay", "--from", &to, "--to", &from]));
    assert!(line.contains("--from"), "{line}");
}

/// A broker that takes nothing, so the persistent publisher's copies stay pending.
struct Refusing;

impl tidings::EventPublisher for Refusing {
    async fn publish_batch(&self, envelopes: &[tidings::Envelope]) -> tidings::PublishOutcome {
        envelopes
            .iter()
            .map(|e| {
                Err(tidings::Error::Publish {
                    topic: e.topic.clone(),
                    source: "the broker is down".into(),
                })
            })
            .collect()
    }
}

/// The persistent publisher's store in PostgreSQL: `publish-pending` sends what the broker did
/// not take, `republish --topic` one topic's copies, only with `--yes`.
#[cfg(feature = "postgres")]
#[test]
fn persistent_commands_send_what_the_store_holds() {
    use tidings::{
        persistent::{PersistentConfig, PersistentPublisher, WhenBrokerFails},
        postgres::{PostgresBackend, PostgresEventStore, Schema},
    };
    use tidings_testkit::{server_from_env, unique_ident};

    let Some(database) = server_from_env("DATABASE_URL") else {
        return;
    };
    let schema = unique_ident("cli_persistent");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let pool = runtime.block_on(async {
        let schema = Schema::in_schema(&schema).expect("schema");
        let backend = PostgresBackend::connect(&database)
            .await
            .expect("connect")
            .with_schema(schema.clone());
        backend.migrate().await.expect("migrate");
        let store = PostgresEventStore::new(backend.pool().clone(), &schema);
        store.migrate().await.expect("migrate the store");
        let config = PersistentConfig::new().when_broker_fails(WhenBrokerFails::KeepForLater);
        let publisher = PersistentPublisher::new(store, Refusing, config).expect("publisher");
        let events = [("orders", "o1"), ("audit", "a1")].map(|(topic, key)| {
            tidings::Envelope::new(topic, key, "test.kept", "text/plain", b"x".to_vec())
        });
        let report = publisher.publish_many(&events).await.expect("stored");
        assert_eq!(report.pending, 2);
        backend.pool().clone()
    });
    let tidings = |args: &[&str]| {
        let mut all = vec!["--outbox", database.as_str(), "persistent"];
        all.extend_from_slice(args);
        tidings()
            .args(&all)
            .env("TIDINGS_POSTGRES__SCHEMA", &schema)
            .output()
            .expect("run tidings")
    };
    let lines = |output: &Output| String::from_utf8_lossy(&output.stdout).lines().count();
    let pending = tidings(&["publish-pending", "--broker", "stdout"]);
    assert!(pending.status.success(), "{pending:?}");
    assert_eq!(lines(&pending), 2, "{pending:?}");
    let again = tidings(&["publish-pending", "--broker", "stdout"]);
    assert_eq!(
        lines(&again),
        0,
        "published copies went out again: {again:?}"
    );
    let dry = text(&tidings(&["republish", "--topic", "orders"]));
    assert!(
        dry.contains("would republish 1 stored events of topic orders"),
        "{dry}"
    );
    let orders = tidings(&[
        "republish",
        "--topic",
        "orders",
        "--yes",
        "--broker",
        "stdout",
    ]);
    let sent = read_lines(&orders.stdout, "orders").expect("structured CloudEvents");
    assert_eq!(
        sent.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
        ["o1"]
    );
    runtime.block_on(async {
        sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .execute(&pool)
            .await
            .expect("drop the test's schema");
    });
}

/// The SQLite store, in the outbox's database: `publish-pending` sends the copies the broker did
/// not take, once; a table name the SQLite store does not use is refused, naming it.
#[test]
fn persistent_commands_send_what_the_sqlite_store_holds() {
    use tidings::{
        persistent::{PersistentConfig, PersistentPublisher, WhenBrokerFails},
        sqlite::{SqliteBackend, SqliteEventStore},
    };

    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/shop.db", dir.path().display());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let backend = SqliteBackend::connect(&url).await.expect("connect");
        backend.migrate().await.expect("migrate");
        let store = SqliteEventStore::new(&backend);
        store.migrate().await.expect("migrate the store");
        let config = PersistentConfig::new().when_broker_fails(WhenBrokerFails::KeepForLater);
        let publisher = PersistentPublisher::new(store, Refusing, config).expect("publisher");
        let events = ["o1", "o2"].map(|key| {
            tidings::Envelope::new("orders", key, "test.kept", "text/plain", b"x".to_vec())
        });
        let report = publisher.publish_many(&events).await.expect("stored");
        assert_eq!(report.pending, 2);
    });
    let pending = |extra: &[&str]| {
        let mut all = vec!["--outbox", url.as_str(), "persistent", "publish-pending"];
        all.extend_from_slice(&["--broker", "stdout"]);
        all.extend_from_slice(extra);
        run(&all, dir.path())
    };
    let sent = read_lines(&pending(&[]).stdout, "orders").expect("structured CloudEvents");
    assert_eq!(
        sent.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
        ["o1", "o2"]
    );
    let again = text(&pending(&[]));
    assert_eq!(again.lines().count(), 0, "published copies went out again");
    let line = refusal(
        &tidings()
            .args(["--outbox", &url, "persistent", "publish-pending"])
            .env("TIDINGS_PERSISTENT__TABLE", "abcPersistedEvents")
            .current_dir(dir.path())
            .output()
            .expect("run tidings"),
    );
    assert!(line.contains("\"abcPersistedEvents\""), "{line}");
}

/// A collector that answers every request 200 and hands over what it got: the request line,
/// the headers and the body.
#[cfg(feature = "otlp")]
fn fake_collector() -> (u16, std::sync::mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (sender, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let mut stream = reader.into_inner();
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
            let _ = sender.send((head, body));
        }
    });
    (port, received)
}

/// With `tracing.otlp_endpoint`, the daemon's spans (a `tidings.publish` per event among them)
/// reach the collector as OTLP protobuf, flushed when it stops.
#[cfg(feature = "otlp")]
#[test]
fn the_daemon_exports_its_spans_over_otlp() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/shop.db", dir.path().display());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(stage_greetings(&url, &["ada", "grace"]));
    let (port, received) = fake_collector();
    let mut daemon = tidings()
        .args(["--outbox", &url, "relay"])
        .env(
            "TIDINGS_TRACING__OTLP_ENDPOINT",
            format!("http://127.0.0.1:{port}/v1/traces"),
        )
        .env("TIDINGS_TRACING__SERVICE_NAME", "relay-under-test")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the daemon");
    let mut lines = BufReader::new(daemon.stdout.take().expect("stdout")).lines();
    for _ in 0..2 {
        lines.next().expect("an event").expect("readable");
    }
    assert_eq!(stop(daemon).code(), Some(0));
    let (head, body) = received
        .recv_timeout(Duration::from_secs(20))
        .expect("no export reached the collector");
    assert!(head.starts_with("POST /v1/traces "), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("application/x-protobuf"),
        "{head}"
    );
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("tidings.publish") && text.contains("relay-under-test"),
        "the export holds no publish span of the service: {text:?}"
    );
}
