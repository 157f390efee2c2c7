//! Dead letters in the PostgreSQL outbox: rows with status `dead`, listed, retried and purged
//! by id.

use chrono::{DateTime, Utc};
use tidings_core::{DeadLetterQuery, DeadLetterRepository, MessageId, OutboxRecord, Result};

use crate::{PostgresBackend, error::classify, outbox::record_from_row};

impl DeadLetterRepository for PostgresBackend {
    async fn list_dead_letters(&self, query: &DeadLetterQuery) -> Result<Vec<OutboxRecord>> {
        let rows = sqlx::query(&self.statements.list_dead)
            .bind(query.after_sequence.unwrap_or(i64::MIN))
            .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        rows.iter().map(record_from_row).collect()
    }

    async fn retry_dead_letters(&self, ids: &[MessageId], now: DateTime<Utc>) -> Result<u64> {
        let ids: Vec<&str> = ids.iter().map(MessageId::as_str).collect();
        let result = sqlx::query(&self.statements.retry_dead)
            .bind(now)
            .bind(&ids)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(result.rows_affected())
    }

    async fn purge_dead_letters(&self, ids: &[MessageId]) -> Result<u64> {
        let ids: Vec<&str> = ids.iter().map(MessageId::as_str).collect();
        let result = sqlx::query(&self.statements.purge_dead)
            .bind(&ids)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(result.rows_affected())
    }
}
