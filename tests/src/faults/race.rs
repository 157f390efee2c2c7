//! Two consumers racing: each reads every record of the topic (groups of their own) and applies
//! it through one inbox (one consumer name), so every record is delivered twice, at about the
//! same moment, and the inbox alone decides which delivery applies it.

use std::time::{Duration, Instant};

use sqlx::{Postgres, Transaction};
use tidings::{
    BoxError, Envelope, Work,
    consume::{ConsumeConfig, Consumer, ConsumerReport, EventHandler},
    kafka::{ConsumerConfig, KafkaSource},
    postgres::{PostgresBackend, PostgresUnitOfWork},
};
use tokio_util::sync::CancellationToken;

use super::{Row, Suite, Tally};
use crate::{Pipeline, unique};

/// Counts, per event id, how often an effect was applied.
#[derive(Clone)]
struct Effects {
    table: String,
}

impl EventHandler<Transaction<'static, Postgres>> for Effects {
    async fn handle(
        &self,
        work: &mut Work<Transaction<'static, Postgres>>,
        event: &Envelope,
    ) -> Result<(), BoxError> {
        sqlx::query(&format!(
            "INSERT INTO {} (event_id, times) VALUES ($1, 1) \
             ON CONFLICT (event_id) DO UPDATE SET times = {0}.times + 1",
            self.table
        ))
        .bind(event.id.as_str())
        .execute(&mut **work.transaction())
        .await?;
        Ok(())
    }
}

type Racer = Consumer<KafkaSource, PostgresBackend>;

fn racer(pipeline: &Pipeline) -> Racer {
    let group = ConsumerConfig::new(unique("racer"), &[&pipeline.topic]);
    let source = KafkaSource::new(&pipeline.kafka, &group).expect("a Kafka source");
    let uow = PostgresUnitOfWork::new(pipeline.backend.clone()).with_consumer("racers");
    Consumer::new(source, uow, ConsumeConfig::default())
}

/// Runs both racers until each has processed `total` records; their reports.
async fn race(pipeline: &Pipeline, effects: &Effects, total: u64) -> [ConsumerReport; 2] {
    let (a, b) = (racer(pipeline), racer(pipeline));
    let (a, b) = tokio::join!(run(&a, effects, total), run(&b, effects, total));
    [a, b]
}

/// Runs `racer` until it has processed `total` records (or two minutes passed).
async fn run(racer: &Racer, effects: &Effects, total: u64) -> ConsumerReport {
    let shutdown = CancellationToken::new();
    let mut progress = racer.progress();
    let finished = async {
        let _ = tokio::time::timeout(
            Duration::from_secs(120),
            progress.wait_for(|r| r.processed() >= total),
        )
        .await;
        shutdown.cancel();
    };
    let (report, ()) = tokio::join!(racer.run(effects, shutdown.clone()), finished);
    report.expect("a racer")
}

/// Events relayed by the daemon, then raced over by two consumers of one inbox.
pub(super) async fn consumers_racing(suite: &Suite) -> Option<Row> {
    let pipeline = Pipeline::new(None).await?;
    let keys = 10;
    let per_key = suite.scale.race_events / keys;
    let total = u64::from(keys * per_key);
    pipeline.produce(keys, per_key).await;
    let logs = tempfile::tempdir().expect("a directory for logs");
    let daemon = super::scenarios::spec(suite, &pipeline, &logs).start("racing");
    super::scenarios::drained(&pipeline, total, &daemon.log).await;
    let exit = daemon.terminate(super::scenarios::EXIT_LIMIT).await;
    let effects = Effects {
        table: format!("\"{}\".effects", pipeline.schema()),
    };
    sqlx::query(&format!(
        "CREATE TABLE {} (event_id TEXT PRIMARY KEY, times INT NOT NULL)",
        effects.table
    ))
    .execute(pipeline.backend.pool())
    .await
    .expect("create the effects table");
    let started = Instant::now();
    let [a, b] = race(&pipeline, &effects, total).await;
    let seconds = started.elapsed().as_secs_f64();
    let (events, applications, most): (i64, i64, i32) = sqlx::query_as(&format!(
        "SELECT COUNT(*), COALESCE(SUM(times), 0), COALESCE(MAX(times), 0) FROM {}",
        effects.table
    ))
    .fetch_one(pipeline.backend.pool())
    .await
    .expect("count the effects");
    pipeline.clean_up().await;
    let tally = Tally {
        expected: usize::try_from(total).expect("a count"),
        delivered: usize::try_from(a.processed() + b.processed()).expect("a count"),
        lost: usize::try_from(total - u64::try_from(events).unwrap_or(0)).unwrap_or(0),
        duplicates: usize::try_from(a.duplicates + b.duplicates).expect("a count"),
        out_of_order: 0,
    };
    let detail = format!(
        "applied {} + {}, skipped {} + {}; {applications} effects, at most {most} per event; \
         order not judged (two consumers interleave); relay {exit}",
        a.applied, b.applied, a.duplicates, b.duplicates
    );
    let checks =
        most == 1 && applications == events && a.applied + b.applied == total && exit.success();
    Some(super::keep_logs_if_failed(
        Row::of(
            "two consumers racing, one inbox",
            &tally,
            seconds,
            detail,
            checks,
        ),
        logs,
    ))
}
