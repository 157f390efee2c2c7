//! Counters as documents of a collection beside the outbox, in database TARGET of
//! `MONGODB_URL`.

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

use super::{COUNTERS, Counts, any_key, is_transient, note, until_committed};

async fn connect(database: &str) -> Result<MongoBackend, BoxError> {
    let url = std::env::var("MONGODB_URL").map_err(|_| "MONGODB_URL is not set")?;
    Ok(MongoBackend::connect(&url)
        .await?
        .with_names(Names::in_database(database)?))
}

pub(crate) async fn setup(database: &str) -> Result<(), BoxError> {
    let backend = connect(database).await?;
    backend.migrate().await?;
    // A transaction cannot create a collection on every server: create it before.
    let _ = backend
        .client()
        .database(database)
        .create_collection(COUNTERS)
        .await;
    Ok(())
}

pub(crate) async fn drop(database: &str) -> Result<(), BoxError> {
    let backend = connect(database).await?;
    backend.client().database(database).drop().await?;
    Ok(())
}

pub(crate) async fn count(
    database: &str,
    topic: &str,
    keys: u32,
    units: u32,
) -> Result<Counts, BoxError> {
    let backend = connect(database).await?;
    let counters: Collection<Document> = backend.client().database(database).collection(COUNTERS);
    let uow = MongoUnitOfWork::new(backend);
    let mut counts = Counts::new();
    for _ in 0..units {
        let key = any_key(keys);
        let n = until_committed(|| count_once(&uow, &counters, &key, topic), is_conflict).await?;
        note(&mut counts, key, n);
    }
    Ok(counts)
}

async fn count_once(
    uow: &MongoUnitOfWork,
    counters: &Collection<Document>,
    key: &str,
    topic: &str,
) -> Result<u32, UnitOfWorkError<BoxError>> {
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
        Ok::<_, BoxError>(n)
    })
    .await
}

/// A write conflict, from the handler's own counter update or from staging: run it again.
fn is_conflict(error: &UnitOfWorkError<BoxError>) -> bool {
    match error {
        UnitOfWorkError::Handler(error) => error
            .downcast_ref::<mongodb::error::Error>()
            .is_some_and(|e| e.contains_label(TRANSIENT_TRANSACTION_ERROR)),
        other => is_transient(other),
    }
}
