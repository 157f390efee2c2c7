use std::{str::FromStr, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use sqlx::{
    Row, SqlitePool,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    },
};
use tidings_core::{
    ClaimRequest, DeadLetterQuery, DeadLetterRepository, Envelope, Error, InboxClaim,
    InboxRepository, Limits, MessageId, Notifications, Notifier, OutboxRecord, OutboxRepository,
    OutboxStats, Outcome, RecordStatus, Result, Settlement, Transactional,
};

use crate::{SqliteTransaction, error::classify, migrate};

/// Outbox, inbox and dead letters in a SQLite database. Cloning shares the pool.
#[derive(Clone, Debug)]
pub struct SqliteBackend {
    pub(crate) pool: SqlitePool,
    limits: Limits,
    notifier: Arc<Notifier>,
}

pub(crate) const ENVELOPE_COLUMNS: &str = "sequence, id, topic, partition_key, message_type, source, \
     event_time, subject, data_schema, content_type, extensions, payload, correlation_id, \
     causation_id, traceparent, status, attempts, last_error, created_at";

const HEADS_IN_WINDOW: &str = "SELECT o.partition_key FROM tidings_outbox o \
     WHERE o.status IN ('pending', 'leased') \
       AND o.sequence <= (SELECT max(w.sequence) FROM (SELECT sequence FROM tidings_outbox \
           WHERE status IN ('pending', 'leased') \
             AND NOT (status = 'leased' AND lease_until > ?1) \
           ORDER BY sequence LIMIT ?2) w) \
       AND ((o.status = 'pending' AND o.next_attempt_at <= ?1) \
         OR (o.status = 'leased' AND o.lease_until <= ?1)) \
       AND NOT EXISTS (SELECT 1 FROM tidings_outbox e \
           WHERE e.partition_key = o.partition_key \
             AND e.status IN ('pending', 'leased') AND e.sequence < o.sequence) \
     ORDER BY o.sequence LIMIT ?3";

const HEADS_BY_KEY: &str = "WITH RECURSIVE keys(k) AS ( \
         SELECT (SELECT partition_key FROM tidings_outbox WHERE status IN ('pending', 'leased') \
                 ORDER BY partition_key LIMIT 1) \
       UNION ALL \
         SELECT (SELECT partition_key FROM tidings_outbox \
                 WHERE status IN ('pending', 'leased') AND partition_key > keys.k \
                 ORDER BY partition_key LIMIT 1) \
         FROM keys WHERE keys.k IS NOT NULL) \
     SELECT h.partition_key FROM keys JOIN tidings_outbox h ON h.sequence = \
         (SELECT sequence FROM tidings_outbox \
          WHERE partition_key = keys.k AND status IN ('pending', 'leased') \
          ORDER BY sequence LIMIT 1) \
     WHERE keys.k IS NOT NULL \
       AND ((h.status = 'pending' AND h.next_attempt_at <= ?1) \
         OR (h.status = 'leased' AND h.lease_until <= ?1)) \
     ORDER BY h.sequence LIMIT ?2";

pub(crate) fn micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

pub(crate) fn from_micros(value: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(value).unwrap_or_default()
}

/// Binds a list as one JSON parameter, read back with `json_each`, so a statement's text does
/// not depend on how many ids it touches.
fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

pub(crate) fn record_from_row(row: &SqliteRow) -> Result<OutboxRecord> {
    let corrupt = |column: &str| Error::corrupt("outbox row", format!("bad {column}"));
    let get_text = |name: &str| row.try_get::<String, _>(name).map_err(classify);
    let status = RecordStatus::parse(&get_text("status")?).ok_or_else(|| corrupt("status"))?;
    Ok(OutboxRecord::new(
        envelope_from_row(row, "id", "outbox row")?,
        row.try_get("sequence").map_err(classify)?,
        status,
        row.try_get::<i64, _>("attempts")
            .map_err(classify)?
            .try_into()
            .unwrap_or(u32::MAX),
        row.try_get("last_error").map_err(classify)?,
        from_micros(row.try_get("created_at").map_err(classify)?),
    ))
}

/// The envelope of a row of the outbox or of the persistent publisher's table, its id in
/// column `id_column`; `what` names the row in a corruption error.
pub(crate) fn envelope_from_row(row: &SqliteRow, id_column: &str, what: &str) -> Result<Envelope> {
    let corrupt = |column: &str| Error::corrupt(what, format!("bad {column}"));
    let get_text = |name: &str| row.try_get::<String, _>(name).map_err(classify);
    let time_text = get_text("event_time")?;
    let time = DateTime::parse_from_rfc3339(&time_text)
        .map_err(|_| corrupt("event_time"))?
        .with_timezone(&Utc);
    let extensions =
        serde_json::from_str(&get_text("extensions")?).map_err(|_| corrupt("extensions"))?;
    let mut envelope = Envelope::new(
        get_text("topic")?,
        get_text("partition_key")?,
        get_text("message_type")?,
        get_text("content_type")?,
        row.try_get::<Vec<u8>, _>("payload").map_err(classify)?,
    );
    envelope.id = MessageId::from(get_text(id_column)?);
    envelope.source = get_text("source")?;
    envelope.time = time;
    envelope.subject = row.try_get("subject").map_err(classify)?;
    envelope.data_schema = row.try_get("data_schema").map_err(classify)?;
    envelope.extensions = extensions;
    envelope.correlation_id = row.try_get("correlation_id").map_err(classify)?;
    envelope.causation_id = row.try_get("causation_id").map_err(classify)?;
    envelope.traceparent = row.try_get("traceparent").map_err(classify)?;
    Ok(envelope)
}

impl SqliteBackend {
    /// Opens (creating if missing) the database at `url` (`sqlite://path/to/file.db`) in WAL mode
    /// with `synchronous = NORMAL` and a 30 s busy timeout. Call [`migrate`](Self::migrate) once
    /// before use.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::Configuration(format!("invalid SQLite URL {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(classify)?;
        Ok(Self::from_pool(pool))
    }

    /// Uses a pool the application already has (its options are left as they are).
    pub fn from_pool(pool: SqlitePool) -> Self {
        Self {
            pool,
            limits: Limits::default(),
            notifier: Arc::new(Notifier::new()),
        }
    }

    /// Enforces `limits` when staging.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Creates or upgrades the Tidings tables. Safe to call on every start.
    pub async fn migrate(&self) -> Result<()> {
        migrate::run(&self.pool).await
    }

    /// The schema's SQL, as [`migrate`](Self::migrate) applies it (for review or another
    /// migration tool).
    pub fn migration_sql() -> String {
        crate::migrate::sql()
    }

    /// The pool, for the application's own tables.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn begin_immediate(&self) -> Result<SqliteTransaction> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(classify)
    }
}

impl Transactional for SqliteBackend {
    type Transaction = SqliteTransaction;

    async fn begin(&self) -> Result<SqliteTransaction> {
        self.begin_immediate().await
    }

    async fn commit(&self, transaction: SqliteTransaction) -> Result<()> {
        transaction.commit().await.map_err(classify)
    }

    async fn rollback(&self, transaction: SqliteTransaction) -> Result<()> {
        transaction.rollback().await.map_err(classify)
    }
}

impl OutboxRepository for SqliteBackend {
    async fn stage(
        &self,
        transaction: &mut SqliteTransaction,
        envelopes: &[Envelope],
    ) -> Result<()> {
        for envelope in envelopes {
            envelope.validate(&self.limits)?;
        }
        let now = micros(Utc::now());
        for envelope in envelopes {
            let extensions = serde_json::to_string(&envelope.extensions)
                .map_err(|e| Error::InvalidMessage(format!("extensions: {e}")))?;
            sqlx::query(
                "INSERT INTO tidings_outbox (id, topic, partition_key, message_type, source, \
                 event_time, subject, data_schema, content_type, extensions, payload, \
                 correlation_id, causation_id, traceparent, next_attempt_at, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(envelope.id.as_str())
            .bind(&envelope.topic)
            .bind(&envelope.key)
            .bind(&envelope.message_type)
            .bind(&envelope.source)
            .bind(
                envelope
                    .time
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            )
            .bind(&envelope.subject)
            .bind(&envelope.data_schema)
            .bind(&envelope.content_type)
            .bind(extensions)
            .bind(&envelope.payload)
            .bind(&envelope.correlation_id)
            .bind(&envelope.causation_id)
            .bind(&envelope.traceparent)
            .bind(now)
            .bind(now)
            .execute(&mut **transaction)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_unique_violation() => Error::InvalidMessage(
                    format!("an event with id {} is already in the outbox", envelope.id),
                ),
                _ => classify(e),
            })?;
        }
        Ok(())
    }

    async fn claim_batch(&self, request: &ClaimRequest) -> Result<Vec<OutboxRecord>> {
        let now = micros(request.now);
        let limit = i64::try_from(request.limit).unwrap_or(i64::MAX);
        let key_limit = i64::try_from(request.key_limit()).unwrap_or(i64::MAX);
        let mut tx = self.begin_immediate().await?;
        // Keys whose oldest unfinished row is claimable: pending and due, or leased with an
        // expired lease. First among the earliest rows not under a live lease (time
        // proportional to the batch); when none is there, key by key through the
        // (key, sequence) index, so a blocked key's tail never starves the others.
        let mut keys: Vec<String> = sqlx::query_scalar(HEADS_IN_WINDOW)
            .bind(now)
            .bind(limit)
            .bind(key_limit)
            .fetch_all(&mut *tx)
            .await
            .map_err(classify)?;
        if keys.is_empty() {
            keys = sqlx::query_scalar(HEADS_BY_KEY)
                .bind(now)
                .bind(key_limit)
                .fetch_all(&mut *tx)
                .await
                .map_err(classify)?;
        }
        if keys.is_empty() {
            tx.commit().await.map_err(classify)?;
            return Ok(Vec::new());
        }
        // The first rows of each key through the index (in-process queries are cheap), merged
        // in sequence order.
        let per_key = (limit + keys.len() as i64 - 1) / keys.len() as i64;
        let mut rows = Vec::new();
        for key in &keys {
            rows.extend(
                sqlx::query(&format!(
                    "SELECT {ENVELOPE_COLUMNS}, next_attempt_at, lease_until FROM tidings_outbox \
                     WHERE partition_key = ?1 AND status IN ('pending', 'leased') \
                     ORDER BY sequence LIMIT ?2"
                ))
                .bind(key)
                .bind(per_key)
                .fetch_all(&mut *tx)
                .await
                .map_err(classify)?,
            );
        }
        rows.sort_by_key(|row| row.try_get::<i64, _>("sequence").unwrap_or(i64::MAX));
        rows.truncate(request.limit);
        let rows = rows
            .iter()
            .map(|row| {
                let lease_until: Option<i64> = row.try_get("lease_until").map_err(classify)?;
                Ok((
                    record_from_row(row)?,
                    from_micros(row.try_get("next_attempt_at").map_err(classify)?),
                    lease_until.map(from_micros),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut claimed = request.take_runs(rows);
        let sequences: Vec<i64> = claimed.iter().map(|r| r.sequence).collect();
        sqlx::query(
            "UPDATE tidings_outbox SET status = 'leased', lease_owner = ?1, lease_until = ?2 \
             WHERE sequence IN (SELECT value FROM json_each(?3))",
        )
        .bind(&request.owner)
        .bind(micros(request.lease_until()))
        .bind(json_list(&sequences))
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        for record in &mut claimed {
            record.status = RecordStatus::Leased;
        }
        Ok(claimed)
    }

    async fn settle(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        settlements: &[Settlement],
    ) -> Result<u64> {
        let now = micros(now);
        let mut published = Vec::new();
        let mut released = Vec::new();
        let mut tx = self.begin_immediate().await?;
        let mut applied = 0;
        for settlement in settlements {
            let id = settlement.id.as_str();
            let result = match &settlement.outcome {
                Outcome::Published => {
                    published.push(id);
                    continue;
                }
                Outcome::Release => {
                    released.push(id);
                    continue;
                }
                Outcome::Retry { error, at } => sqlx::query(
                    "UPDATE tidings_outbox SET status = 'pending', attempts = attempts + 1, \
                     last_error = ?1, next_attempt_at = ?2, lease_owner = NULL, lease_until = NULL \
                     WHERE id = ?3 AND status = 'leased' AND lease_owner = ?4",
                )
                .bind(error)
                .bind(micros(*at))
                .bind(id)
                .bind(owner),
                Outcome::DeadLetter { error } => sqlx::query(
                    "UPDATE tidings_outbox SET status = 'dead', attempts = attempts + 1, \
                     last_error = ?1, lease_owner = NULL, lease_until = NULL \
                     WHERE id = ?2 AND status = 'leased' AND lease_owner = ?3",
                )
                .bind(error)
                .bind(id)
                .bind(owner),
            };
            applied += result
                .execute(&mut *tx)
                .await
                .map_err(classify)?
                .rows_affected();
        }
        if !published.is_empty() {
            applied += sqlx::query(
                "UPDATE tidings_outbox SET status = 'published', published_at = ?1, \
                 lease_owner = NULL, lease_until = NULL \
                 WHERE id IN (SELECT value FROM json_each(?2)) AND status IN ('pending', 'leased')",
            )
            .bind(now)
            .bind(json_list(&published))
            .execute(&mut *tx)
            .await
            .map_err(classify)?
            .rows_affected();
        }
        if !released.is_empty() {
            applied += sqlx::query(
                "UPDATE tidings_outbox SET status = 'pending', lease_owner = NULL, lease_until = NULL \
                 WHERE id IN (SELECT value FROM json_each(?1)) AND status = 'leased' AND lease_owner = ?2",
            )
            .bind(json_list(&released))
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(classify)?
            .rows_affected();
        }
        tx.commit().await.map_err(classify)?;
        Ok(applied)
    }

    async fn purge_published(&self, before: DateTime<Utc>, limit: u32) -> Result<u64> {
        let result = sqlx::query(
            "DELETE FROM tidings_outbox WHERE sequence IN (SELECT sequence FROM tidings_outbox \
             WHERE status = 'published' AND published_at < ?1 ORDER BY published_at LIMIT ?2)",
        )
        .bind(micros(before))
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(result.rows_affected())
    }

    async fn stats(&self) -> Result<OutboxStats> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM tidings_outbox GROUP BY status")
                .fetch_all(&self.pool)
                .await
                .map_err(classify)?;
        Ok(OutboxStats::from_counts(
            rows.iter().map(|(status, n)| (status.as_str(), *n)),
        ))
    }

    fn subscribe(&self) -> Option<Notifications> {
        Some(self.notifier.subscribe())
    }

    fn after_commit(&self) {
        self.notifier.notify();
    }
}

impl InboxRepository for SqliteBackend {
    async fn claim_message(
        &self,
        transaction: &mut SqliteTransaction,
        consumer: &str,
        id: &MessageId,
        now: DateTime<Utc>,
    ) -> Result<InboxClaim> {
        let inserted = sqlx::query(
            "INSERT INTO tidings_inbox (consumer, message_id, received_at) VALUES (?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(consumer)
        .bind(id.as_str())
        .bind(micros(now))
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
        let result = sqlx::query(
            "DELETE FROM tidings_inbox WHERE (consumer, message_id) IN \
             (SELECT consumer, message_id FROM tidings_inbox WHERE received_at < ?1 LIMIT ?2)",
        )
        .bind(micros(before))
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(result.rows_affected())
    }

    async fn contains(&self, consumer: &str, id: &MessageId) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM tidings_inbox WHERE consumer = ? AND message_id = ?")
                .bind(consumer)
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(classify)?;
        Ok(found.is_some())
    }
}

impl DeadLetterRepository for SqliteBackend {
    async fn list_dead_letters(&self, query: &DeadLetterQuery) -> Result<Vec<OutboxRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {ENVELOPE_COLUMNS} FROM tidings_outbox \
             WHERE status = 'dead' AND sequence > ?1 ORDER BY sequence LIMIT ?2"
        ))
        .bind(query.after_sequence.unwrap_or(i64::MIN))
        .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter().map(record_from_row).collect()
    }

    async fn retry_dead_letters(&self, ids: &[MessageId], now: DateTime<Utc>) -> Result<u64> {
        let ids: Vec<&str> = ids.iter().map(MessageId::as_str).collect();
        let result = sqlx::query(
            "UPDATE tidings_outbox SET status = 'pending', attempts = 0, next_attempt_at = ?1 \
             WHERE id IN (SELECT value FROM json_each(?2)) AND status = 'dead'",
        )
        .bind(micros(now))
        .bind(json_list(&ids))
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(result.rows_affected())
    }

    async fn purge_dead_letters(&self, ids: &[MessageId]) -> Result<u64> {
        let ids: Vec<&str> = ids.iter().map(MessageId::as_str).collect();
        let result = sqlx::query(
            "DELETE FROM tidings_outbox WHERE id IN (SELECT value FROM json_each(?1)) AND status = 'dead'",
        )
        .bind(json_list(&ids))
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(result.rows_affected())
    }
}
