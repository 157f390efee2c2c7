//! Counters as rows of a table beside the outbox, in schema TARGET of `DATABASE_URL`.

use tidings::{
    BoxError, UnitOfWorkError,
    postgres::{PostgresBackend, PostgresUnitOfWork, Schema},
};
use tidings_tests::Step;

use super::{COUNTERS, Counts, any_key, is_transient, note, until_committed};

async fn connect(schema: &str) -> Result<PostgresBackend, BoxError> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set")?;
    Ok(PostgresBackend::connect(&url)
        .await?
        .with_schema(Schema::in_schema(schema)?))
}

pub(crate) async fn setup(schema: &str) -> Result<(), BoxError> {
    let backend = connect(schema).await?;
    backend.migrate().await?;
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS \"{schema}\".{COUNTERS} (key TEXT PRIMARY KEY, n INT NOT NULL)"
    ))
    .execute(backend.pool())
    .await?;
    Ok(())
}

pub(crate) async fn drop(schema: &str) -> Result<(), BoxError> {
    let backend = connect(schema).await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .execute(backend.pool())
        .await?;
    Ok(())
}

pub(crate) async fn count(
    schema: &str,
    topic: &str,
    keys: u32,
    units: u32,
) -> Result<Counts, BoxError> {
    let uow = PostgresUnitOfWork::new(connect(schema).await?);
    let bump = format!(
        "INSERT INTO \"{schema}\".{COUNTERS} AS c (key, n) VALUES ($1, 1) \
         ON CONFLICT (key) DO UPDATE SET n = c.n + 1 RETURNING n"
    );
    let mut counts = Counts::new();
    for _ in 0..units {
        let key = any_key(keys);
        let n = until_committed(|| count_once(&uow, &bump, &key, topic), is_transient).await?;
        note(&mut counts, key, n);
    }
    Ok(counts)
}

async fn count_once(
    uow: &PostgresUnitOfWork,
    bump: &str,
    key: &str,
    topic: &str,
) -> Result<u32, UnitOfWorkError<BoxError>> {
    uow.run(async |work| {
        let n: i32 = sqlx::query_scalar(bump)
            .bind(key)
            .fetch_one(&mut **work.transaction())
            .await?;
        let n = u32::try_from(n)?;
        work.stage(&Step::new(key, n, topic))?;
        Ok::<_, BoxError>(n)
    })
    .await
}
