//! The outbox port over PostgreSQL: staging with the wake-up in one statement, claims and
//! settlements in one statement each (see `sql/statements/`), a LISTEN subscription.

use chrono::{DateTime, Utc};
use sqlx::{
    Row,
    postgres::{PgListener, PgRow},
};
use tidings_core::{
    ClaimRequest, Envelope, Error, Notifications, OutboxRecord, OutboxRepository, OutboxStats,
    Outcome, RecordStatus, Result, Settlement,
};
use tracing::warn;

use crate::{
    PostgresBackend, PostgresTransaction, PublishedRows,
    columns::{EnvelopeColumns, envelope_from_row},
    error::classify,
};

impl OutboxRepository for PostgresBackend {
    async fn stage(
        &self,
        transaction: &mut PostgresTransaction,
        envelopes: &[Envelope],
    ) -> Result<()> {
        if envelopes.is_empty() {
            return Ok(());
        }
        for envelope in envelopes {
            envelope.validate(&self.limits)?;
        }
        let columns = EnvelopeColumns::new(envelopes)?;
        columns
            .bind(sqlx::query(&self.statements.stage))
            .bind(&self.statements.notify_channel)
            .execute(&mut **transaction)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_unique_violation() => Error::InvalidMessage(
                    "an event with one of these ids is already in the outbox".to_owned(),
                ),
                _ => classify(e),
            })?;
        Ok(())
    }

    async fn claim_batch(&self, request: &ClaimRequest) -> Result<Vec<OutboxRecord>> {
        let limit = i64::try_from(request.limit).unwrap_or(i64::MAX);
        let key_limit = i64::try_from(request.key_limit()).unwrap_or(i64::MAX);
        let claim = |statement| {
            sqlx::query(statement)
                .bind(request.now)
                .bind(limit)
                .bind(&request.owner)
                .bind(request.lease_until())
                .bind(key_limit)
                .fetch_all(&self.pool)
        };
        let mut rows = claim(&self.statements.claim).await.map_err(classify)?;
        if rows.is_empty() {
            rows = claim(&self.statements.claim_by_key)
                .await
                .map_err(classify)?;
        }
        let mut claimed = rows
            .iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>>>()?;
        claimed.sort_by_key(|record| record.sequence);
        Ok(claimed)
    }

    async fn settle(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        settlements: &[Settlement],
    ) -> Result<u64> {
        if settlements.is_empty() {
            return Ok(0);
        }
        let mut sequences = Vec::with_capacity(settlements.len());
        let mut ids = Vec::with_capacity(settlements.len());
        let mut outcomes = Vec::with_capacity(settlements.len());
        let mut errors = Vec::with_capacity(settlements.len());
        let mut retry_at = Vec::with_capacity(settlements.len());
        for settlement in settlements {
            sequences.push(settlement.sequence);
            ids.push(settlement.id.as_str());
            let (outcome, error, at) = match &settlement.outcome {
                Outcome::Published => ("published", None, None),
                Outcome::Release => ("release", None, None),
                Outcome::Retry { error, at } => ("retry", Some(error.as_str()), Some(*at)),
                Outcome::DeadLetter { error } => ("dead", Some(error.as_str()), None),
            };
            outcomes.push(outcome);
            errors.push(error);
            retry_at.push(at);
        }
        let settle = |statement| {
            sqlx::query(statement)
                .bind(now)
                .bind(owner)
                .bind(&sequences)
                .bind(&ids)
                .bind(&outcomes)
                .bind(&errors)
                .bind(&retry_at)
        };
        if self.published == PublishedRows::Delete {
            let settled: i64 = settle(&self.statements.settle_deleting)
                .fetch_one(&self.pool)
                .await
                .and_then(|row| row.try_get(0))
                .map_err(classify)?;
            return Ok(u64::try_from(settled).unwrap_or(0));
        }
        let result = settle(&self.statements.settle)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(result.rows_affected())
    }

    async fn purge_published(&self, before: DateTime<Utc>, limit: u32) -> Result<u64> {
        if self.published == PublishedRows::Delete {
            return Ok(0); // settling deleted them already
        }
        let result = sqlx::query(&self.statements.purge_published)
            .bind(before)
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(result.rows_affected())
    }

    async fn stats(&self) -> Result<OutboxStats> {
        let rows: Vec<(String, i64)> = sqlx::query_as(&self.statements.stats)
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        Ok(OutboxStats::from_counts(
            rows.iter().map(|(status, n)| (status.as_str(), *n)),
        ))
    }

    /// A LISTEN connection of its own, forwarding notifications until the subscription is
    /// dropped. Outside a Tokio runtime there is none, and the relay polls.
    fn subscribe(&self) -> Option<Notifications> {
        let pool = self.pool.clone();
        let channel = self.statements.notify_channel.clone();
        Notifications::forward(move |hints| async move {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(listener) => listener,
                Err(error) => return warn!(%error, "LISTEN connection failed; relays will poll"),
            };
            if let Err(error) = listener.listen(&channel).await {
                return warn!(%error, "LISTEN failed; relays will poll");
            }
            loop {
                match listener.recv().await {
                    Ok(_) => hints.wake(),
                    Err(error) => {
                        // sqlx reconnects on the next recv; wake the relay in case a
                        // notification was lost meanwhile.
                        warn!(%error, "LISTEN connection lost; reconnecting");
                        hints.wake();
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                }
            }
        })
    }
}

pub(crate) fn record_from_row(row: &PgRow) -> Result<OutboxRecord> {
    let corrupt = |column: &str| Error::corrupt("outbox row", format!("bad {column}"));
    let status = RecordStatus::parse(&row.try_get::<String, _>("status").map_err(classify)?)
        .ok_or_else(|| corrupt("status"))?;
    let envelope = envelope_from_row(row, "id")?;
    Ok(OutboxRecord::new(
        envelope,
        row.try_get("sequence").map_err(classify)?,
        status,
        row.try_get::<i32, _>("attempts")
            .map_err(classify)?
            .try_into()
            .unwrap_or(0),
        row.try_get("last_error").map_err(classify)?,
        row.try_get("created_at").map_err(classify)?,
    ))
}
