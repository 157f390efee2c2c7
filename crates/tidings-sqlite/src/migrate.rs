use sqlx::SqlitePool;
use tidings_core::Result;

use crate::error::classify;

/// The schema, in order; each entry is applied once and recorded in `tidings_migrations`.
/// Tidings keeps its own version table so it never collides with the application's own sqlx
/// migrations in the same database.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/0001_outbox_and_inbox.sql"))];

/// The schema's SQL, every migration in order.
pub(crate) fn sql() -> String {
    MIGRATIONS
        .iter()
        .map(|(version, sql)| format!("-- migration {version}\n{sql}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) async fn run(pool: &SqlitePool) -> Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(classify)?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS tidings_migrations (
             version INTEGER PRIMARY KEY,
             applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    )
    .execute(&mut *tx)
    .await
    .map_err(classify)?;
    for (version, sql) in MIGRATIONS {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM tidings_migrations WHERE version = ?")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(classify)?;
        if applied.is_some() {
            continue;
        }
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        sqlx::query("INSERT INTO tidings_migrations (version) VALUES (?)")
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
    }
    tx.commit().await.map_err(classify)
}
