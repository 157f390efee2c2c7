//! A producer process for the MongoDB skewed-clock test: `counting_producer DATABASE TOPIC KEYS
//! UNITS` runs UNITS units of work against `MONGODB_URL`; each increments the counter document
//! of one of KEYS keys in the unit of work's session and stages a step carrying the counter's
//! new value. The database serialises writers of a counter, so per key the steps' values follow
//! commit order; a relay must send them in that order. A unit of work that meets a write
//! conflict is run again, as MongoDB asks.
//!
//! It prints `clock MICROS` (its own clock, which the test compares with its own to see that
//! `faketime` took hold) first and `done UNITS` last.

use std::time::Duration;

use mongodb::{
    Collection,
    bson::{Bson, Document, doc},
    error::TRANSIENT_TRANSACTION_ERROR,
    options::ReturnDocument,
};
use tidings::{
    BoxError, UnitOfWorkError,
    mongodb::{MongoBackend, MongoUnitOfWork, Names},
};
use tidings_tests::Step;

/// The collection of counters, beside the outbox.
const COUNTERS: &str = "counters";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [database, topic, keys, units] = args.as_slice() else {
        return Err("usage: counting_producer DATABASE TOPIC KEYS UNITS".into());
    };
    let (keys, units): (u32, u32) = (keys.parse()?, units.parse()?);
    println!("clock {}", chrono::Utc::now().timestamp_micros());
    let url = std::env::var("MONGODB_URL").map_err(|_| "MONGODB_URL is not set")?;
    let backend = MongoBackend::connect(&url)
        .await?
        .with_names(Names::in_database(database)?);
    let counters: Collection<Document> = backend.client().database(database).collection(COUNTERS);
    let uow = MongoUnitOfWork::new(backend);
    for unit in 0..units {
        let key = format!("acct-{}", fastrand::u32(0..keys));
        let mut pause = Duration::from_millis(1);
        while let Err(error) = count_once(&uow, &counters, &key, topic).await {
            if !is_conflict(&error) {
                return Err(format!("unit of work {unit}: {error}").into());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
    println!("done {units}");
    Ok(())
}

async fn count_once(
    uow: &MongoUnitOfWork,
    counters: &Collection<Document>,
    key: &str,
    topic: &str,
) -> Result<(), UnitOfWorkError<BoxError>> {
    uow.run(async |work| {
        let counter = counters
            .find_one_and_update(doc! { "_id": key }, doc! { "$inc": { "n": 1_i64 } })
            .upsert(true)
            .return_document(ReturnDocument::After)
            .session(work.transaction().session())
            .await?
            .ok_or("the counter upsert returned nothing")?;
        let n = match counter.get("n") {
            Some(Bson::Int64(n)) => u32::try_from(*n)?,
            other => return Err(format!("counter {key}: {other:?}").into()),
        };
        work.stage(&Step::new(key, n, topic))?;
        Ok::<_, BoxError>(())
    })
    .await
}

/// A write conflict, from the handler's own counter update or from staging: run it again.
fn is_conflict(error: &UnitOfWorkError<BoxError>) -> bool {
    match error {
        UnitOfWorkError::Tidings(error) => error.is_transient(),
        UnitOfWorkError::Handler(error) => error
            .downcast_ref::<mongodb::error::Error>()
            .is_some_and(|e| e.contains_label(TRANSIENT_TRANSACTION_ERROR)),
        _ => false,
    }
}
