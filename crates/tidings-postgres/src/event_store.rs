use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row, postgres::PgRow};
use tidings_core::{Envelope, EventStore, MessageId, Result, StoredEvent, StoredEventQuery};

use crate::{
    Schema,
    columns::{ENVELOPE_ARRAYS, ENVELOPE_FIELDS, EnvelopeColumns, envelope_from_row},
    error::classify,
    schema::validate,
};

/// The persistent publisher's copies in a PostgreSQL table (by default
/// `tidings_published_events`, in the schema of a [`Schema`]).
#[derive(Clone, Debug)]
pub struct PostgresEventStore {
    pool: PgPool,
    schema: String,
    name: String,
    statements: std::sync::Arc<Statements>,
}

fn qualified(schema: &str, table: &str) -> String {
    format!("\"{schema}\".\"{table}\"")
}

#[derive(Debug)]
struct Statements {
    store: String,
    mark_published: String,
    page: String,
    assign_event_id: String,
}

impl PostgresEventStore {
    /// The store in `schema`'s PostgreSQL schema, over `pool`. Call
    /// [`migrate`](Self::migrate) once before use.
    pub fn new(pool: PgPool, schema: &Schema) -> Self {
        Self::build(pool, schema.schema(), "tidings_published_events")
    }

    /// Keeps the copies in table `table` (validated like every Tidings name).
    pub fn with_table(self, table: &str) -> Result<Self> {
        validate("event table", table)?;
        Ok(Self::build(self.pool, &self.schema, table))
    }

    fn build(pool: PgPool, schema: &str, name: &str) -> Self {
        Self {
            statements: std::sync::Arc::new(Statements::new(&qualified(schema, name))),
            pool,
            schema: schema.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The table, schema-qualified and quoted.
    pub fn table(&self) -> String {
        qualified(&self.schema, &self.name)
    }

    /// The DDL for the table (idempotent), for users with their own migration tool.
    pub fn migration_sql(&self) -> String {
        let table = self.table();
        let index = |suffix: &str| format!("\"{}_{suffix}\"", self.name);
        let schema = format!("\"{}\"", self.schema);
        format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};\n\
             CREATE TABLE IF NOT EXISTS {table} (\n\
             \x20   storage_id     TEXT        PRIMARY KEY,\n\
             \x20   event_id       TEXT        NOT NULL,\n\
             \x20   topic          TEXT        NOT NULL,\n\
             \x20   partition_key  TEXT        NOT NULL,\n\
             \x20   message_type   TEXT        NOT NULL,\n\
             \x20   source         TEXT        NOT NULL,\n\
             \x20   event_time     TIMESTAMPTZ NOT NULL,\n\
             \x20   subject        TEXT,\n\
             \x20   data_schema    TEXT,\n\
             \x20   content_type   TEXT        NOT NULL,\n\
             \x20   extensions     JSONB       NOT NULL DEFAULT '{{}}',\n\
             \x20   payload        BYTEA,\n\
             \x20   payload_json   JSONB,\n\
             \x20   correlation_id TEXT,\n\
             \x20   causation_id   TEXT,\n\
             \x20   traceparent    TEXT,\n\
             \x20   created        TIMESTAMPTZ NOT NULL,\n\
             \x20   published      BOOLEAN     NOT NULL DEFAULT false\n\
             );\n\
             CREATE INDEX IF NOT EXISTS {created} ON {table} (created, storage_id);\n\
             CREATE INDEX IF NOT EXISTS {unpublished} ON {table} (created, storage_id) \
             WHERE NOT published;\n\
             ALTER TABLE {table} ADD COLUMN IF NOT EXISTS payload_json JSONB;\n\
             ALTER TABLE {table} ALTER COLUMN payload DROP NOT NULL;\n",
            created = index("created"),
            unpublished = index("unpublished"),
        )
    }

    /// Creates the table if it does not exist.
    pub async fn migrate(&self) -> Result<()> {
        sqlx::raw_sql(&self.migration_sql())
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }
}

impl Statements {
    fn new(table: &str) -> Self {
        Self {
            // A new copy under a storage id replaces the old one, unpublished.
            store: format!(
                "INSERT INTO {table} (event_id, {ENVELOPE_FIELDS}, storage_id, payload_json, \
                 created) SELECT *, $16 FROM UNNEST({ENVELOPE_ARRAYS}, $15::text[], $17::jsonb[]) \
                 ON CONFLICT (storage_id) DO UPDATE SET event_id = EXCLUDED.event_id, \
                 topic = EXCLUDED.topic, partition_key = EXCLUDED.partition_key, \
                 message_type = EXCLUDED.message_type, source = EXCLUDED.source, \
                 event_time = EXCLUDED.event_time, subject = EXCLUDED.subject, \
                 data_schema = EXCLUDED.data_schema, content_type = EXCLUDED.content_type, \
                 extensions = EXCLUDED.extensions, payload = EXCLUDED.payload, \
                 payload_json = EXCLUDED.payload_json, \
                 correlation_id = EXCLUDED.correlation_id, causation_id = EXCLUDED.causation_id, \
                 traceparent = EXCLUDED.traceparent, created = EXCLUDED.created, \
                 published = false"
            ),
            mark_published: format!(
                "UPDATE {table} e SET published = true \
                 FROM UNNEST($1::text[], $2::text[]) AS s(storage_id, event_id) \
                 WHERE e.storage_id = s.storage_id AND e.event_id = s.event_id"
            ),
            page: format!(
                "SELECT * FROM {table} \
                 WHERE (NOT $1 OR NOT published) \
                   AND ($2::timestamptz IS NULL OR (created, storage_id) > ($2, $3)) \
                 ORDER BY created, storage_id LIMIT $4"
            ),
            assign_event_id: format!(
                "UPDATE {table} SET event_id = $2 WHERE storage_id = $1 AND event_id = ''"
            ),
        }
    }
}

fn stored_from_row(row: &PgRow) -> Result<StoredEvent> {
    let envelope: Envelope = envelope_from_row(row, "event_id")?;
    Ok(StoredEvent::new(
        row.try_get::<String, _>("storage_id").map_err(classify)?,
        envelope,
        row.try_get("created").map_err(classify)?,
    )
    .with_published(row.try_get("published").map_err(classify)?))
}

impl EventStore for PostgresEventStore {
    async fn store(&self, events: &[StoredEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        // JSON payloads go to the JSONB column, so a data migration can update them in place.
        let json: Vec<Option<serde_json::Value>> =
            events.iter().map(StoredEvent::json_payload).collect();
        let columns = EnvelopeColumns::new(events.iter().map(|e| &e.envelope))?
            .without_payloads_kept_as(&json);
        let storage_ids: Vec<&str> = events.iter().map(|e| e.storage_id.as_str()).collect();
        // One `created` for the batch: every copy in it was stored at once.
        let created = events
            .iter()
            .map(|e| e.created)
            .max()
            .unwrap_or_else(Utc::now);
        columns
            .bind(sqlx::query(&self.statements.store))
            .bind(&storage_ids)
            .bind(created)
            .bind(&json)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn mark_published(&self, events: &[(String, MessageId)]) -> Result<u64> {
        let storage_ids: Vec<&str> = events.iter().map(|(s, _)| s.as_str()).collect();
        let event_ids: Vec<&str> = events.iter().map(|(_, id)| id.as_str()).collect();
        let result = sqlx::query(&self.statements.mark_published)
            .bind(&storage_ids)
            .bind(&event_ids)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(result.rows_affected())
    }

    async fn page(&self, query: &StoredEventQuery) -> Result<Vec<StoredEvent>> {
        let (after_created, after_id): (Option<DateTime<Utc>>, String) = query
            .after
            .clone()
            .map_or((None, String::new()), |(created, id)| (Some(created), id));
        let rows = sqlx::query(&self.statements.page)
            .bind(query.unpublished_only)
            .bind(after_created)
            .bind(after_id)
            .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        rows.iter().map(stored_from_row).collect()
    }

    async fn assign_event_id(&self, storage_id: &str, id: &MessageId) -> Result<bool> {
        let result = sqlx::query(&self.statements.assign_event_id)
            .bind(storage_id)
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(result.rows_affected() == 1)
    }
}
