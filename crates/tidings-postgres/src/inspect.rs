//! Operators' reads of the PostgreSQL outbox: counts per topic, published rows of a range.

use chrono::{DateTime, Utc};
use sqlx::Row;
use tidings_core::{
    Error, OutboxInspector, OutboxRecord, PublishedQuery, Result, StatusGroup, TopicStats,
};

use crate::{PostgresBackend, PublishedRows, error::classify, outbox::record_from_row};

impl OutboxInspector for PostgresBackend {
    async fn topic_stats(&self) -> Result<Vec<TopicStats>> {
        let rows = sqlx::query(&self.statements.topic_stats)
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        let groups = rows
            .iter()
            .map(|row| {
                Ok(StatusGroup {
                    topic: row.try_get("topic").map_err(classify)?,
                    status: row.try_get("status").map_err(classify)?,
                    count: row.try_get("count").map_err(classify)?,
                    first_created: row
                        .try_get::<Option<DateTime<Utc>>, _>("first_created")
                        .map_err(classify)?,
                    last_published: row
                        .try_get::<Option<DateTime<Utc>>, _>("last_published")
                        .map_err(classify)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TopicStats::from_groups(groups))
    }

    async fn list_published(&self, query: &PublishedQuery) -> Result<Vec<OutboxRecord>> {
        if self.published == PublishedRows::Delete {
            return Err(Error::Configuration(
                "this outbox deletes rows once they are published (PublishedRows::Delete): \
                 there are no published rows to list or replay"
                    .to_owned(),
            ));
        }
        let rows = sqlx::query(&self.statements.list_published)
            .bind(query.from)
            .bind(query.to)
            .bind(query.after_sequence.unwrap_or(i64::MIN))
            .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        rows.iter().map(record_from_row).collect()
    }
}
