use std::{str::FromStr, sync::Arc};

use chrono::{DateTime, Utc};
use sqlx::{
    PgPool, Row,
    postgres::{PgConnectOptions, PgListener, PgPoolOptions, PgRow},
};
use tidings_core::{
    ClaimRequest, DeadLetterQuery, DeadLetterRepository, Envelope, Error, InboxClaim,
    InboxRepository, Limits, MessageId, Notifications, OutboxRecord, OutboxRepository, OutboxStats,
    Outcome, RecordStatus, Result, Settlement, Transactional,
};
use tracing::warn;

use crate::{
    PostgresTransaction, Schema,
    columns::{ENVELOPE_ARRAYS, ENVELOPE_FIELDS, EnvelopeColumns, envelope_from_row},
    error::classify,
};

/// Outbox, inbox and dead letters in PostgreSQL. Cloning shares the pool.
#[derive(Clone, Debug)]
pub struct PostgresBackend {
    pool: PgPool,
    limits: Limits,
    schema: Arc<Schema>,
    statements: Arc<Statements>,
}

/// Statement texts, built once from the validated schema.
#[derive(Debug)]
struct Statements {
    stage: String,
    notify_channel: String,
    claim: String,
    claim_by_key: String,
    settle: String,
    purge_published: String,
    stats: String,
    claim_message: String,
    purge_inbox: String,
    list_dead: String,
    retry_dead: String,
    purge_dead: String,
}

/// A row that may be handed out now, its key's earlier rows aside ($1 is the claim's time).
/// [`ClaimRequest::admits`] is the same rule, for adapters that apply it outside the database.
const CLAIMABLE: &str = "((o.status = 'pending' AND o.next_attempt_at <= $1) \
     OR (o.status = 'leased' AND o.lease_until <= $1))";

/// A CTE that makes the statement's own transaction commit without waiting for the WAL flush.
/// The relay's bookkeeping (leases, outcomes) runs with it: a server crash may forget a lease or
/// a "published" mark, which only means the row is sent again — at least once still holds —
/// and relays do not wait for a disk flush per batch. Staging and the inbox always commit
/// synchronously. A function rather than `SET LOCAL`, so a claim stays one round trip.
const ASYNC_COMMIT: &str =
    "settings AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))";

/// One claim, one statement and one round trip: lock heads of keys that no other relay holds
/// (`heads`, with `prelude` CTEs before it), read each key's run through the (key, sequence)
/// index, keep every run up to its first row that may not go now, and lease the first
/// `$2` of those in sequence order. $1 is the claim's time, $3 the owner, $4 the lease's end,
/// $5 the most keys to take.
fn claim_statement(outbox: &str, prelude: &str, heads: &str) -> String {
    format!(
        "WITH {prelude}{ASYNC_COMMIT}, heads AS ({heads}), \
         runs AS ( \
             SELECT r.sequence, \
                 bool_and(r.claimable) OVER (PARTITION BY r.partition_key ORDER BY r.sequence) \
                     AS admitted \
             FROM heads CROSS JOIN LATERAL ( \
                 SELECT o.sequence, o.partition_key, {CLAIMABLE} AS claimable FROM {outbox} o \
                 WHERE o.partition_key = heads.partition_key \
                   AND o.status IN ('pending', 'leased') \
                 ORDER BY o.sequence \
                 LIMIT (SELECT ($2 + count(*) - 1) / count(*) FROM heads)) r), \
         chosen AS ( \
             SELECT runs.sequence FROM runs CROSS JOIN settings WHERE runs.admitted \
             ORDER BY runs.sequence LIMIT $2) \
         UPDATE {outbox} o SET status = 'leased', lease_owner = $3, lease_until = $4 \
         FROM chosen WHERE o.sequence = chosen.sequence \
         RETURNING {RETURNED_COLUMNS}"
    )
}

const RETURNED_COLUMNS: &str = "o.sequence, o.id, o.topic, o.partition_key, o.message_type, \
     o.source, o.event_time, o.subject, o.data_schema, o.content_type, o.extensions, o.payload, \
     o.correlation_id, o.causation_id, o.traceparent, o.status, o.attempts, o.last_error, \
     o.created_at";

const ENVELOPE_COLUMNS: &str = "sequence, id, topic, partition_key, message_type, source, \
     event_time, subject, data_schema, content_type, extensions, payload, correlation_id, \
     causation_id, traceparent, status, attempts, last_error, created_at";

impl Statements {
    fn new(schema: &Schema) -> Self {
        let outbox = schema.outbox();
        let inbox = schema.inbox();
        Self {
            // One round trip: the rows and the wake-up, which PostgreSQL delivers only if (and
            // when) the transaction commits.
            stage: format!(
                "WITH staged AS (INSERT INTO {outbox} (id, {ENVELOPE_FIELDS}) \
                 SELECT * FROM UNNEST({ENVELOPE_ARRAYS}) RETURNING 1) \
                 SELECT (SELECT count(*) FROM staged), pg_notify($15, '')"
            ),
            notify_channel: schema.channel(),
            claim: claim_statement(
                &outbox,
                "",
                &format!(
                    // Fast path: heads among the earliest $2 rows that are not under a live
                    // lease, found in time proportional to the batch however long the backlog.
                    "SELECT o.partition_key FROM {outbox} o \
                     WHERE o.status IN ('pending', 'leased') \
                       AND o.sequence <= (SELECT max(w.sequence) FROM (SELECT sequence \
                           FROM {outbox} WHERE status IN ('pending', 'leased') \
                             AND NOT (status = 'leased' AND lease_until > $1) \
                           ORDER BY sequence LIMIT $2) w) \
                       AND {CLAIMABLE} \
                       AND NOT EXISTS (SELECT 1 FROM {outbox} e \
                           WHERE e.partition_key = o.partition_key \
                             AND e.status IN ('pending', 'leased') AND e.sequence < o.sequence) \
                     ORDER BY o.sequence LIMIT $5 \
                     FOR UPDATE OF o SKIP LOCKED"
                ),
            ),
            claim_by_key: claim_statement(
                &outbox,
                // Complete path, when the window holds no claimable head (its keys are leased
                // or waiting for a retry): walk the distinct keys of unfinished rows through
                // the (key, sequence) index — one seek per key, not one per row — and look at
                // each key's first row.
                &format!(
                    "RECURSIVE keys(k) AS ( \
                         (SELECT partition_key FROM {outbox} \
                          WHERE status IN ('pending', 'leased') ORDER BY partition_key LIMIT 1) \
                       UNION ALL \
                         SELECT (SELECT o.partition_key FROM {outbox} o \
                                 WHERE o.status IN ('pending', 'leased') \
                                   AND o.partition_key > keys.k \
                                 ORDER BY o.partition_key LIMIT 1) \
                         FROM keys WHERE keys.k IS NOT NULL), \
                     candidates AS ( \
                         SELECT h.sequence FROM keys CROSS JOIN LATERAL ( \
                             SELECT o.sequence FROM {outbox} o \
                             WHERE o.partition_key = keys.k AND o.status IN ('pending', 'leased') \
                             ORDER BY o.sequence LIMIT 1) h), "
                ),
                &format!(
                    "SELECT o.partition_key FROM {outbox} o \
                     WHERE o.sequence IN (SELECT sequence FROM candidates) AND {CLAIMABLE} \
                     ORDER BY o.sequence LIMIT $5 \
                     FOR UPDATE OF o SKIP LOCKED"
                ),
            ),
            // Every outcome in one statement. Publishing needs no lease (the event was sent,
            // whoever holds the row now); giving a row back, retrying or dead-lettering it
            // needs the caller's own live lease. Rows are found by sequence (the primary key),
            // several times cheaper than through the random-id index; the id must match too.
            settle: format!(
                "WITH {ASYNC_COMMIT} \
                 UPDATE {outbox} o SET \
                     status = CASE s.outcome WHEN 'published' THEN 'published' \
                         WHEN 'dead' THEN 'dead' ELSE 'pending' END, \
                     published_at = CASE WHEN s.outcome = 'published' THEN $1 \
                         ELSE o.published_at END, \
                     attempts = o.attempts + CASE WHEN s.outcome IN ('retry', 'dead') THEN 1 \
                         ELSE 0 END, \
                     last_error = CASE WHEN s.outcome IN ('retry', 'dead') THEN s.error \
                         ELSE o.last_error END, \
                     next_attempt_at = CASE WHEN s.outcome = 'retry' THEN s.at \
                         ELSE o.next_attempt_at END, \
                     lease_owner = NULL, lease_until = NULL \
                 FROM settings, UNNEST($3::bigint[], $4::text[], $5::text[], $6::text[], \
                     $7::timestamptz[]) AS s(sequence, id, outcome, error, at) \
                 WHERE o.sequence = s.sequence AND o.id = s.id \
                   AND ((s.outcome = 'published' AND o.status IN ('pending', 'leased')) \
                     OR (s.outcome <> 'published' AND o.status = 'leased' \
                         AND o.lease_owner = $2))"
            ),
            purge_published: format!(
                "DELETE FROM {outbox} WHERE sequence IN (SELECT sequence FROM {outbox} \
                 WHERE status = 'published' AND published_at < $1 \
                 ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
            ),
            stats: format!("SELECT status, COUNT(*) FROM {outbox} GROUP BY status"),
            claim_message: format!(
                "INSERT INTO {inbox} (consumer, message_id, received_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING"
            ),
            purge_inbox: format!(
                "DELETE FROM {inbox} WHERE (consumer, message_id) IN \
                 (SELECT consumer, message_id FROM {inbox} WHERE received_at < $1 \
                  LIMIT $2 FOR UPDATE SKIP LOCKED)"
            ),
            list_dead: format!(
                "SELECT {ENVELOPE_COLUMNS} FROM {outbox} \
                 WHERE status = 'dead' AND sequence > $1 ORDER BY sequence LIMIT $2"
            ),
            retry_dead: format!(
                "UPDATE {outbox} SET status = 'pending', attempts = 0, next_attempt_at = $1 \
                 WHERE id = ANY($2) AND status = 'dead'"
            ),
            purge_dead: format!("DELETE FROM {outbox} WHERE id = ANY($1) AND status = 'dead'"),
        }
    }
}

fn record_from_row(row: &PgRow) -> Result<OutboxRecord> {
    let corrupt = |what: &str| Error::backend(format!("corrupt outbox row: {what}"));
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

impl PostgresBackend {
    /// Connects to `url` (`postgres://user:password@host:port/database`) with a pool of up to
    /// 10 connections. Call [`migrate`](Self::migrate) once before use.
    pub async fn connect(url: &str) -> Result<Self> {
        // The URL may hold a password: it is not repeated in the error.
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| Error::Configuration(format!("invalid PostgreSQL URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect_with(options)
            .await
            .map_err(classify)?;
        Ok(Self::from_pool(pool))
    }

    /// Uses a pool the application already has, with the default [`Schema`].
    pub fn from_pool(pool: PgPool) -> Self {
        let schema = Schema::default();
        Self {
            pool,
            limits: Limits::default(),
            statements: Arc::new(Statements::new(&schema)),
            schema: Arc::new(schema),
        }
    }

    /// Uses the tables of `schema`.
    pub fn with_schema(mut self, schema: Schema) -> Self {
        self.statements = Arc::new(Statements::new(&schema));
        self.schema = Arc::new(schema);
        self
    }

    /// Enforces `limits` when staging.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The tables in use.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The pool, for the application's own queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the schema and tables if they do not exist. Concurrent calls (several instances
    /// starting at once) are serialised with an advisory lock.
    pub async fn migrate(&self) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(self.schema.channel())
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        sqlx::raw_sql(&self.schema.migration_sql())
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)
    }
}

impl Transactional for PostgresBackend {
    type Transaction = PostgresTransaction;

    async fn begin(&self) -> Result<PostgresTransaction> {
        self.pool.begin().await.map_err(classify)
    }

    async fn commit(&self, transaction: PostgresTransaction) -> Result<()> {
        transaction.commit().await.map_err(classify)
    }

    async fn rollback(&self, transaction: PostgresTransaction) -> Result<()> {
        transaction.rollback().await.map_err(classify)
    }
}

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
        let result = sqlx::query(&self.statements.settle)
            .bind(now)
            .bind(owner)
            .bind(&sequences)
            .bind(&ids)
            .bind(&outcomes)
            .bind(&errors)
            .bind(&retry_at)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(result.rows_affected())
    }

    async fn purge_published(&self, before: DateTime<Utc>, limit: u32) -> Result<u64> {
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
}

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
