//! Counters as rows of a table beside the outbox, in the SQLite file TARGET.

use tidings::{
    BoxError, UnitOfWorkError,
    sqlite::{SqliteBackend, SqliteUnitOfWork},
};
use tidings_tests::Step;

use super::{COUNTERS, Counts, any_key, is_transient, note, until_committed};

async fn connect(file: &str) -> Result<SqliteBackend, BoxError> {
    Ok(SqliteBackend::connect(&format!("sqlite://{file}")).await?)
}

pub(crate) async fn setup(file: &str) -> Result<(), BoxError> {
    let backend = connect(file).await?;
    backend.migrate().await?;
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {COUNTERS} (key TEXT PRIMARY KEY, n INTEGER NOT NULL)"
    ))
    .execute(backend.pool())
    .await?;
    Ok(())
}

pub(crate) async fn drop(file: &str) -> Result<(), BoxError> {
    for suffix in ["", "-wal", "-shm"] {
        match std::fs::remove_file(format!("{file}{suffix}")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}

pub(crate) async fn count(
    file: &str,
    topic: &str,
    keys: u32,
    units: u32,
) -> Result<Counts, BoxError> {
    let uow = SqliteUnitOfWork::new(connect(file).await?);
    let bump = format!(
        "INSERT INTO {COUNTERS} (key, n) VALUES (?1, 1) \
         ON CONFLICT (key) DO UPDATE SET n = n + 1 RETURNING n"
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
    uow: &SqliteUnitOfWork,
    bump: &str,
    key: &str,
    topic: &str,
) -> Result<u32, UnitOfWorkError<BoxError>> {
    uow.run(async |work| {
        let n: i64 = sqlx::query_scalar(bump)
            .bind(key)
            .fetch_one(&mut **work.transaction())
            .await?;
        let n = u32::try_from(n)?;
        work.stage(&Step::new(key, n, topic))?;
        Ok::<_, BoxError>(n)
    })
    .await
}
