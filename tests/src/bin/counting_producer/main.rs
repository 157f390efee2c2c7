//! A producer process for the skewed-clock tests: `counting_producer BACKEND TARGET COMMAND`.
//!
//! BACKEND is `postgres`, `sqlite`, `mongodb` or `dynamodb`; TARGET names the outbox's place in
//! it: a schema of `DATABASE_URL`, a file, a database of `MONGODB_URL`, a table prefix at
//! `AWS_ENDPOINT_URL_DYNAMODB`. COMMAND is one of
//! - `setup`: creates the outbox and the counters (run once, before the producers start);
//! - `count TOPIC KEYS UNITS`: runs UNITS units of work, each incrementing the counter of one of
//!   KEYS keys in the unit of work's transaction and staging a step that carries the counter's
//!   new value. The database serialises the writers of a counter, so per key the values follow
//!   commit order; a relay must send them in that order. A unit of work that meets a write
//!   conflict is run again, as the database asks;
//! - `drop`: removes the outbox and the counters.
//!
//! `count` prints `clock MICROS` first (its own clock, which the caller compares with its own to
//! see that `faketime` took hold), then `count KEY N` with the highest value it gave each key,
//! and `done UNITS` last.

mod dynamodb;
mod mongodb;
mod postgres;
mod sqlite;

use std::{collections::BTreeMap, future::Future, time::Duration};

use tidings::{BoxError, UnitOfWorkError};

/// The collection, table or table suffix of the counters, beside the outbox.
const COUNTERS: &str = "counters";

/// The highest value given to each key.
type Counts = BTreeMap<String, u32>;

const USAGE: &str = "usage: counting_producer postgres|sqlite|mongodb|dynamodb TARGET \
                     setup | drop | count TOPIC KEYS UNITS";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [backend, target, command @ ..] = args.as_slice() else {
        return Err(USAGE.into());
    };
    match command {
        [setup] if setup == "setup" => setup_backend(backend, target).await,
        [drop] if drop == "drop" => drop_backend(backend, target).await,
        [name, topic, keys, units] if name == "count" => {
            let (keys, units): (u32, u32) = (keys.parse()?, units.parse()?);
            println!("clock {}", chrono::Utc::now().timestamp_micros());
            let counts = count(backend, target, topic, keys, units).await?;
            for (key, n) in counts {
                println!("count {key} {n}");
            }
            println!("done {units}");
            Ok(())
        }
        _ => Err(USAGE.into()),
    }
}

async fn setup_backend(backend: &str, target: &str) -> Result<(), BoxError> {
    match backend {
        "postgres" => postgres::setup(target).await,
        "sqlite" => sqlite::setup(target).await,
        "mongodb" => mongodb::setup(target).await,
        "dynamodb" => dynamodb::setup(target).await,
        other => Err(format!("unknown backend {other:?}; {USAGE}").into()),
    }
}

async fn drop_backend(backend: &str, target: &str) -> Result<(), BoxError> {
    match backend {
        "postgres" => postgres::drop(target).await,
        "sqlite" => sqlite::drop(target).await,
        "mongodb" => mongodb::drop(target).await,
        "dynamodb" => dynamodb::drop(target).await,
        other => Err(format!("unknown backend {other:?}; {USAGE}").into()),
    }
}

async fn count(
    backend: &str,
    target: &str,
    topic: &str,
    keys: u32,
    units: u32,
) -> Result<Counts, BoxError> {
    match backend {
        "postgres" => postgres::count(target, topic, keys, units).await,
        "sqlite" => sqlite::count(target, topic, keys, units).await,
        "mongodb" => mongodb::count(target, topic, keys, units).await,
        "dynamodb" => dynamodb::count(target, topic, keys, units).await,
        other => Err(format!("unknown backend {other:?}; {USAGE}").into()),
    }
}

/// A random one of `keys` keys.
fn any_key(keys: u32) -> String {
    format!("acct-{}", fastrand::u32(0..keys))
}

/// Runs `unit` until it succeeds, again after a short pause each time it fails with an error
/// `is_conflict` takes for a write conflict; returns the counter value it staged.
async fn until_committed<F, Fut>(
    mut unit: F,
    is_conflict: impl Fn(&UnitOfWorkError<BoxError>) -> bool,
) -> Result<u32, BoxError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u32, UnitOfWorkError<BoxError>>>,
{
    let mut pause = Duration::from_millis(1);
    loop {
        match unit().await {
            Ok(n) => return Ok(n),
            Err(error) if is_conflict(&error) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// A transient Tidings error: the backend asks for the unit of work to be run again.
fn is_transient(error: &UnitOfWorkError<BoxError>) -> bool {
    matches!(error, UnitOfWorkError::Tidings(error) if error.is_transient())
}

/// Notes `n` as `key`'s value if it is the highest yet.
fn note(counts: &mut Counts, key: String, n: u32) {
    let highest = counts.entry(key).or_default();
    *highest = (*highest).max(n);
}
