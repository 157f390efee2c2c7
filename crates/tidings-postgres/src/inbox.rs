//! The inbox port over PostgreSQL: a claim is an insert that does nothing when the message was
//! claimed before.

use chrono::{DateTime, Utc};
use tidings_core::{InboxClaim, InboxRepository, MessageId, Result};

use crate::{PostgresBackend, PostgresTransaction, error::classify};

impl InboxRepository for PostgresBackend {
    async fn claim_message(
        &self,
        transaction: &mut PostgresTransaction,
        consumer: &str,
        id: &MessageId,
        now: DateTime<Utc>,
    ) -> Result<InboxClaim> {
        let inserted = sqlx::query(&self.statements.claim_message)
            .bind(consumer)
            .bind(id.as_str())
            .bind(now)
            .execute(&mut **transaction)
            .await
            .map_err(classify)?
            .rows_affected();
        Ok(if inserted == 1 {
            InboxClaim::Fresh
        } else {
            InboxClaim::Duplicate
        })
    }

    async fn purge_inbox(&self, before: DateTime<Utc>, limit: u32) -> Result<u64> {
        let result = sqlx::query(&self.statements.purge_inbox)
            .bind(before)
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(result.rows_affected())
    }

    async fn contains(&self, consumer: &str, id: &MessageId) -> Result<bool> {
        let found: Option<i32> = sqlx::query_scalar(&self.statements.inbox_contains)
            .bind(consumer)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        Ok(found.is_some())
    }
}
