//! Operators' reads of the SQLite outbox: counts per topic, published rows of a range.

use sqlx::Row;
use tidings_core::{
    OutboxInspector, OutboxRecord, PublishedQuery, Result, StatusGroup, TopicStats,
};

use crate::{
    SqliteBackend,
    backend::{ENVELOPE_COLUMNS, from_micros, micros, record_from_row},
    error::classify,
};

impl OutboxInspector for SqliteBackend {
    async fn topic_stats(&self) -> Result<Vec<TopicStats>> {
        let rows = sqlx::query(
            "SELECT topic, status, COUNT(*) AS count, MIN(created_at) AS first_created, \
             MAX(published_at) AS last_published FROM tidings_outbox GROUP BY topic, status",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        let groups = rows
            .iter()
            .map(|row| {
                let time = |column: &str| {
                    row.try_get::<Option<i64>, _>(column)
                        .map(|t| t.map(from_micros))
                        .map_err(classify)
                };
                Ok(StatusGroup {
                    topic: row.try_get("topic").map_err(classify)?,
                    status: row.try_get("status").map_err(classify)?,
                    count: row.try_get("count").map_err(classify)?,
                    first_created: time("first_created")?,
                    last_published: time("last_published")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TopicStats::from_groups(groups))
    }

    async fn list_published(&self, query: &PublishedQuery) -> Result<Vec<OutboxRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {ENVELOPE_COLUMNS} FROM tidings_outbox WHERE status = 'published' \
             AND published_at >= ?1 AND published_at < ?2 AND sequence > ?3 \
             ORDER BY sequence LIMIT ?4"
        ))
        .bind(micros(query.from))
        .bind(micros(query.to))
        .bind(query.after_sequence.unwrap_or(i64::MIN))
        .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter().map(record_from_row).collect()
    }
}
