//! The persistent publisher's copies in a SQLite table.

use chrono::Utc;
use sqlx::{Row, SqlitePool, sqlite::SqliteRow};
use tidings_core::{Envelope, Error, EventStore, MessageId, Result, StoredEvent, StoredEventQuery};

use crate::{
    SqliteBackend,
    backend::{envelope_from_row, from_micros, micros},
    error::classify,
};

/// The DDL of the table (idempotent): one row per storage id, the envelope's fields as the
/// outbox keeps them, `created` in microseconds, `published` 0 or 1.
pub const EVENT_STORE_SQL: &str = "\
CREATE TABLE IF NOT EXISTS tidings_published_events (
    storage_id     TEXT    PRIMARY KEY,
    event_id       TEXT    NOT NULL,
    topic          TEXT    NOT NULL,
    partition_key  TEXT    NOT NULL,
    message_type   TEXT    NOT NULL,
    source         TEXT    NOT NULL,
    event_time     TEXT    NOT NULL,
    subject        TEXT,
    data_schema    TEXT,
    content_type   TEXT    NOT NULL,
    extensions     TEXT    NOT NULL DEFAULT '{}',
    payload        BLOB    NOT NULL,
    correlation_id TEXT,
    causation_id   TEXT,
    traceparent    TEXT,
    created        INTEGER NOT NULL,
    published      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tidings_published_events_created
    ON tidings_published_events (created, storage_id);
CREATE INDEX IF NOT EXISTS tidings_published_events_unpublished
    ON tidings_published_events (created, storage_id) WHERE published = 0;
";

/// A new copy under a storage id replaces the old one, unpublished.
const STORE: &str = "INSERT INTO tidings_published_events (storage_id, event_id, topic, \
     partition_key, message_type, source, event_time, subject, data_schema, content_type, \
     extensions, payload, correlation_id, causation_id, traceparent, created, published) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0) \
     ON CONFLICT (storage_id) DO UPDATE SET event_id = excluded.event_id, \
     topic = excluded.topic, partition_key = excluded.partition_key, \
     message_type = excluded.message_type, source = excluded.source, \
     event_time = excluded.event_time, subject = excluded.subject, \
     data_schema = excluded.data_schema, content_type = excluded.content_type, \
     extensions = excluded.extensions, payload = excluded.payload, \
     correlation_id = excluded.correlation_id, causation_id = excluded.causation_id, \
     traceparent = excluded.traceparent, created = excluded.created, published = 0";

/// A page's statement: all copies or unpublished ones, from the start or after a copy. Four
/// statements rather than one with `OR`s, so that each can walk its index from where it is.
fn page_sql(unpublished_only: bool, after: bool) -> String {
    let mut conditions = Vec::new();
    if unpublished_only {
        conditions.push("published = 0");
    }
    if after {
        conditions.push("(created, storage_id) > (?, ?)");
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    format!("SELECT * FROM tidings_published_events {filter} ORDER BY created, storage_id LIMIT ?")
}

/// The persistent publisher's copies in table `tidings_published_events` of a SQLite database.
#[derive(Clone, Debug)]
pub struct SqliteEventStore {
    pool: SqlitePool,
}

impl SqliteEventStore {
    /// The store in the database of `backend` (its outbox's). Call [`migrate`](Self::migrate)
    /// once before use.
    pub fn new(backend: &SqliteBackend) -> Self {
        Self::from_pool(backend.pool().clone())
    }

    /// The store over a pool the application already has.
    pub fn from_pool(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// The pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Creates the table and its indexes if they do not exist.
    pub async fn migrate(&self) -> Result<()> {
        sqlx::raw_sql(EVENT_STORE_SQL)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }
}

fn store_query<'q>(
    event: &'q StoredEvent,
    created: i64,
    extensions: String,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    let e: &Envelope = &event.envelope;
    sqlx::query(STORE)
        .bind(&event.storage_id)
        .bind(e.id.as_str())
        .bind(&e.topic)
        .bind(&e.key)
        .bind(&e.message_type)
        .bind(&e.source)
        .bind(e.time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .bind(&e.subject)
        .bind(&e.data_schema)
        .bind(&e.content_type)
        .bind(extensions)
        .bind(&e.payload)
        .bind(&e.correlation_id)
        .bind(&e.causation_id)
        .bind(&e.traceparent)
        .bind(created)
}

fn stored_from_row(row: &SqliteRow) -> Result<StoredEvent> {
    let envelope = envelope_from_row(row, "event_id", "stored event")?;
    let published: i64 = row.try_get("published").map_err(classify)?;
    Ok(StoredEvent::new(
        row.try_get::<String, _>("storage_id").map_err(classify)?,
        envelope,
        from_micros(row.try_get("created").map_err(classify)?),
    )
    .with_published(published != 0))
}

impl EventStore for SqliteEventStore {
    async fn store(&self, events: &[StoredEvent]) -> Result<()> {
        // One `created` for the batch, in one transaction: the copies were stored at once.
        let created = micros(
            events
                .iter()
                .map(|e| e.created)
                .max()
                .unwrap_or_else(Utc::now),
        );
        let mut transaction = self.pool.begin().await.map_err(classify)?;
        for event in events {
            let extensions = serde_json::to_string(&event.envelope.extensions)
                .map_err(|e| Error::InvalidMessage(format!("extensions: {e}")))?;
            store_query(event, created, extensions)
                .execute(&mut *transaction)
                .await
                .map_err(classify)?;
        }
        transaction.commit().await.map_err(classify)
    }

    async fn mark_published(&self, events: &[(String, MessageId)]) -> Result<u64> {
        let mut transaction = self.pool.begin().await.map_err(classify)?;
        let mut marked = 0;
        for (storage_id, id) in events {
            marked += sqlx::query(
                "UPDATE tidings_published_events SET published = 1 \
                 WHERE storage_id = ? AND event_id = ?",
            )
            .bind(storage_id)
            .bind(id.as_str())
            .execute(&mut *transaction)
            .await
            .map_err(classify)?
            .rows_affected();
        }
        transaction.commit().await.map_err(classify)?;
        Ok(marked)
    }

    async fn page(&self, query: &StoredEventQuery) -> Result<Vec<StoredEvent>> {
        let sql = page_sql(query.unpublished_only, query.after.is_some());
        let mut statement = sqlx::query(&sql);
        if let Some((created, storage_id)) = &query.after {
            statement = statement.bind(micros(*created)).bind(storage_id);
        }
        let rows = statement
            .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        rows.iter().map(stored_from_row).collect()
    }

    async fn assign_event_id(&self, storage_id: &str, id: &MessageId) -> Result<bool> {
        let result = sqlx::query(
            "UPDATE tidings_published_events SET event_id = ? \
             WHERE storage_id = ? AND event_id = ''",
        )
        .bind(id.as_str())
        .bind(storage_id)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(result.rows_affected() == 1)
    }
}
