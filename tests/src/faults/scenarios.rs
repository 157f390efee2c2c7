//! The scenarios of the fault suite, each against a PostgreSQL schema and a topic of its own.

use std::{
    collections::{BTreeSet, HashMap},
    time::{Duration, Instant},
};

use tidings::{OutboxRepository, OutboxStats, kafka::KafkaConfig, postgres::PostgresUnitOfWork};
use tidings_testkit::{eventually, server_from_env};

use super::{
    Row, Suite, Tally,
    audit::{read_everything, steps},
    daemon::{DaemonSpec, outages, tail},
};
use crate::{PARTITIONS, Pipeline, PrivateBroker, Step};

/// Longest a drain may take once the fault is over.
const DRAIN_LIMIT: Duration = Duration::from_secs(180);
/// Longest a daemon may take to exit after SIGTERM (its lease).
pub(super) const EXIT_LIMIT: Duration = Duration::from_secs(10);
/// Keys of the scenarios that are not about many keys.
const FEW_KEYS: u32 = 20;

/// Daemons on `pipeline`'s outbox and broker, logging into `logs`.
pub(super) fn spec(suite: &Suite, pipeline: &Pipeline, logs: &tempfile::TempDir) -> DaemonSpec {
    DaemonSpec {
        binary: suite.daemon.clone(),
        outbox: server_from_env("DATABASE_URL").expect("DATABASE_URL, as the pipeline had it"),
        place: vec![(
            "TIDINGS_POSTGRES__SCHEMA".to_owned(),
            pipeline.schema().to_owned(),
        )],
        bootstrap: pipeline.kafka.bootstrap_servers.clone(),
        logs: logs.path().to_path_buf(),
        settings: Vec::new(),
    }
}

/// The outbox's counts; `None` while the database cannot answer (it may be restarting).
async fn stats(pipeline: &Pipeline) -> Option<OutboxStats> {
    pipeline.backend.stats().await.ok()
}

/// Waits until `total` rows are published and none is pending or leased; fails with the log of
/// `daemon_log` when that takes longer than [`DRAIN_LIMIT`].
pub(super) async fn drained(pipeline: &Pipeline, total: u64, daemon_log: &std::path::Path) {
    let done = tokio::time::timeout(DRAIN_LIMIT, async {
        loop {
            if let Some(s) = stats(pipeline).await
                && s.published >= total
                && s.pending == 0
                && s.leased == 0
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    if done.is_err() {
        let now = stats(pipeline).await;
        panic!(
            "not drained within {DRAIN_LIMIT:?}: {now:?}; the daemon's log ends:\n{}",
            tail(daemon_log)
        );
    }
}

/// Waits until more than `than` rows are published and returns how many are.
async fn published_beyond(pipeline: &Pipeline, than: u64, limit: Duration) -> u64 {
    eventually(
        "rows to be published",
        limit,
        Duration::from_millis(20),
        || async {
            stats(pipeline)
                .await
                .map(|s| s.published)
                .filter(|&p| p > than)
        },
    )
    .await
}

async fn audit(pipeline: &Pipeline, expected: &HashMap<String, BTreeSet<u32>>) -> Tally {
    let at_least = expected.values().map(BTreeSet::len).sum();
    let records = read_everything(&pipeline.kafka, &pipeline.topic, PARTITIONS, at_least).await;
    Tally::of(&records, expected)
}

/// SIGKILL at random points while 100 keys drain, a new daemon started after each. Each daemon
/// is killed once it has published (so mid-batch, not while it starts or waits out the leases
/// its predecessor left) a random few hundred events more. Leases are short (1 s) and
/// batches small (100) so that twenty deaths fit in one drain.
pub(super) async fn killed_while_draining(suite: &Suite) -> Option<Row> {
    let pipeline = Pipeline::new(None).await?;
    let (keys, kills) = (100, suite.scale.kills);
    let per_key = suite.scale.kill_events / keys;
    let total = u64::from(keys * per_key);
    pipeline.produce(keys, per_key).await;
    let logs = tempfile::tempdir().expect("a directory for logs");
    let mut spec = spec(suite, &pipeline, &logs);
    spec.settings = vec![
        ("TIDINGS_RELAY__LEASE", "1s"),
        ("TIDINGS_RELAY__BATCH_SIZE", "100"),
    ];
    let started = Instant::now();
    let mut daemon = spec.start("killed");
    let mut mid_drain = 0;
    for _ in 0..kills {
        // Once it publishes, let it publish a random few hundred more, then kill it.
        let published = stats(&pipeline).await.map_or(0, |s| s.published);
        if published < total {
            let working = published_beyond(&pipeline, published, Duration::from_secs(30)).await;
            let until = (working + fastrand::u64(1..400)).min(total - 1);
            if working < until {
                published_beyond(&pipeline, until - 1, Duration::from_secs(30)).await;
            }
        }
        if stats(&pipeline).await.is_some_and(|s| s.published < total) {
            mid_drain += 1;
        }
        daemon.kill().await;
        daemon = spec.start("killed");
    }
    drained(&pipeline, total, &daemon.log).await;
    let exit = daemon.terminate(EXIT_LIMIT).await;
    let seconds = started.elapsed().as_secs_f64();
    let tally = audit(&pipeline, &steps(keys, per_key)).await;
    pipeline.clean_up().await;
    let detail = format!("{kills} kills, {mid_drain} of them mid-drain; last daemon {exit}");
    let checks = exit.success() && mid_drain == kills;
    let name = format!("SIGKILL x{kills} while draining");
    Some(super::keep_logs_if_failed(
        Row::of(&name, &tally, seconds, detail, checks),
        logs,
    ))
}

/// The broker frozen with SIGSTOP mid-drain, then resumed: how long until rows move again.
pub(super) async fn broker_frozen(suite: &Suite) -> Option<Row> {
    let broker = PrivateBroker::start().await?;
    let pipeline = Pipeline::new(Some(KafkaConfig::new(&broker.bootstrap))).await?;
    let per_key = suite.scale.outage_events / FEW_KEYS;
    let total = u64::from(FEW_KEYS * per_key);
    pipeline.produce(FEW_KEYS, per_key).await;
    let logs = tempfile::tempdir().expect("a directory for logs");
    let daemon = spec(suite, &pipeline, &logs).start("frozen");
    let started = Instant::now();
    published_beyond(&pipeline, 0, Duration::from_secs(30)).await;
    broker.pause();
    tokio::time::sleep(suite.scale.freeze).await;
    let at_resume = stats(&pipeline).await.map_or(0, |s| s.published);
    broker.resume();
    let resumed = Instant::now();
    let moving = at_resume < total;
    if moving {
        published_beyond(&pipeline, at_resume, Duration::from_secs(60)).await;
    }
    let recovery = resumed.elapsed().as_secs_f64();
    drained(&pipeline, total, &daemon.log).await;
    let (failed, _) = outages(&daemon.log);
    let exit = daemon.terminate(EXIT_LIMIT).await;
    let seconds = started.elapsed().as_secs_f64();
    let tally = audit(&pipeline, &steps(FEW_KEYS, per_key)).await;
    pipeline.clean_up().await;
    let detail = format!(
        "frozen {:?} with {} of {total} published; moving again {recovery:.2} s after resume; \
         outage lines logged {failed}; {exit}",
        suite.scale.freeze, at_resume
    );
    let checks = moving && recovery < 5.0 && exit.success();
    Some(super::keep_logs_if_failed(
        Row::of("broker frozen (SIGSTOP)", &tally, seconds, detail, checks),
        logs,
    ))
}

/// Restarts the test PostgreSQL through `scripts/services`; `false` when it is not ours to
/// restart (said, and a failure under CI).
fn restart_postgres() -> bool {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/services");
    let status = std::process::Command::new(script)
        .args(["restart", "postgres"])
        .status()
        .expect("run scripts/services");
    if !status.success() && tidings_testkit::env::under_ci() {
        panic!("scripts/services could not restart PostgreSQL under CI");
    }
    status.success()
}

/// PostgreSQL restarted (`pg_ctl restart -m fast`) mid-drain: the daemon must reconnect alone.
pub(super) async fn database_restarted(suite: &Suite) -> Option<Row> {
    let pipeline = Pipeline::new(None).await?;
    let per_key = suite.scale.outage_events / FEW_KEYS;
    let total = u64::from(FEW_KEYS * per_key);
    pipeline.produce(FEW_KEYS, per_key).await;
    let logs = tempfile::tempdir().expect("a directory for logs");
    let mut daemon = spec(suite, &pipeline, &logs).start("restarted");
    let started = Instant::now();
    let before = published_beyond(&pipeline, 0, Duration::from_secs(30)).await;
    if !restart_postgres() {
        eprintln!("skipped: the PostgreSQL restart (DATABASE_URL is not scripts/services')");
        pipeline.clean_up().await;
        return None;
    }
    let restarted = Instant::now();
    drained(&pipeline, total, &daemon.log).await;
    let finished = restarted.elapsed().as_secs_f64();
    let alive = daemon.running();
    let (failed, recovered) = outages(&daemon.log);
    let exit = daemon.terminate(EXIT_LIMIT).await;
    let seconds = started.elapsed().as_secs_f64();
    let tally = audit(&pipeline, &steps(FEW_KEYS, per_key)).await;
    pipeline.clean_up().await;
    let detail = format!(
        "restarted with about {before} of {total} published; drained {finished:.1} s later; \
         outage lines logged {failed}, relay recoveries {recovered}; {exit}"
    );
    let checks = alive && before < total && failed >= 1 && exit.success();
    Some(super::keep_logs_if_failed(
        Row::of("PostgreSQL restarted", &tally, seconds, detail, checks),
        logs,
    ))
}

/// Four daemons on one outbox while eight writers bump shared counters and stage their values.
pub(super) async fn daemons_and_writers(suite: &Suite) -> Option<Row> {
    let pipeline = Pipeline::new(None).await?;
    let counters = Counters::create(&pipeline, FEW_KEYS).await;
    let logs = tempfile::tempdir().expect("a directory for logs");
    let spec = spec(suite, &pipeline, &logs);
    let started = Instant::now();
    let daemons: Vec<_> = (0..4).map(|i| spec.start(&format!("crowd-{i}"))).collect();
    // Eight writers side by side on this task: each holds its own connection and transaction.
    let uow = PostgresUnitOfWork::new(pipeline.backend.clone());
    let units = suite.scale.units_per_writer;
    futures_util::future::join_all((0..8).map(|_| counters.write(&uow, &pipeline.topic, units)))
        .await;
    let total = u64::from(8 * suite.scale.units_per_writer);
    drained(&pipeline, total, &daemons[0].log).await;
    let mut exits = Vec::new();
    for daemon in daemons {
        exits.push(daemon.terminate(EXIT_LIMIT).await);
    }
    let seconds = started.elapsed().as_secs_f64();
    let tally = audit(&pipeline, &counters.expected(&pipeline).await).await;
    pipeline.clean_up().await;
    let clean = exits.iter().filter(|e| e.success()).count();
    let detail = format!("4 daemons, 8 writers on {FEW_KEYS} counters; {clean} of 4 exited 0");
    Some(super::keep_logs_if_failed(
        Row::of("4 daemons + 8 writers", &tally, seconds, detail, clean == 4),
        logs,
    ))
}

/// A counter row per key, bumped in the writer's unit of work: the database serialises the
/// writers of one key, so the values staged for a key follow commit order.
#[derive(Clone)]
struct Counters {
    table: String,
    keys: u32,
}

impl Counters {
    async fn create(pipeline: &Pipeline, keys: u32) -> Self {
        let table = format!("\"{}\".counters", pipeline.schema());
        let pool = pipeline.backend.pool();
        sqlx::query(&format!(
            "CREATE TABLE {table} (key TEXT PRIMARY KEY, n INT NOT NULL)"
        ))
        .execute(pool)
        .await
        .expect("create the counters");
        sqlx::query(&format!(
            "INSERT INTO {table} SELECT 'acct-' || k, 0 FROM generate_series(0, $1 - 1) AS k"
        ))
        .bind(i32::try_from(keys).expect("keys"))
        .execute(pool)
        .await
        .expect("insert the counters");
        Self { table, keys }
    }

    /// Runs `units` units of work, each bumping a random key's counter and staging its value.
    async fn write(&self, uow: &PostgresUnitOfWork, topic: &str, units: u32) {
        let bump = format!(
            "UPDATE {} SET n = n + 1 WHERE key = $1 RETURNING n",
            self.table
        );
        for _ in 0..units {
            let key = format!("acct-{}", fastrand::u32(0..self.keys));
            uow.run(async |work| {
                let n: i32 = sqlx::query_scalar(&bump)
                    .bind(&key)
                    .fetch_one(&mut **work.transaction())
                    .await?;
                work.stage(&Step::new(&key, u32::try_from(n)?, topic))?;
                Ok::<_, tidings::BoxError>(())
            })
            .await
            .expect("a writer's unit of work");
        }
    }

    /// Values `1..=n` of each key's final counter.
    async fn expected(&self, pipeline: &Pipeline) -> HashMap<String, BTreeSet<u32>> {
        let rows: Vec<(String, i32)> =
            sqlx::query_as(&format!("SELECT key, n FROM {}", self.table))
                .fetch_all(pipeline.backend.pool())
                .await
                .expect("read the counters");
        rows.into_iter()
            .map(|(key, n)| (key, (1..=u32::try_from(n).expect("a count")).collect()))
            .collect()
    }
}
