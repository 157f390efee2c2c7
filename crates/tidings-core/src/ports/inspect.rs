//! What operators read of an outbox beyond its totals: counts per topic with the age of the
//! oldest pending row and the last publication, and the rows published in a time range (for a
//! replay). Every adapter implements it; the conformance suite checks each.

use std::{collections::BTreeMap, future::Future, sync::Arc};

use chrono::{DateTime, Utc};

use crate::{OutboxRecord, OutboxStats, RecordStatus, Result};

/// One topic's rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicStats {
    /// The topic.
    pub topic: String,
    /// Its rows by status.
    pub counts: OutboxStats,
    /// When the oldest pending row was staged.
    pub oldest_pending: Option<DateTime<Utc>>,
    /// When the last published row (of those retention kept) was published.
    pub last_published: Option<DateTime<Utc>>,
}

/// One group of a `GROUP BY topic, status`: its count, the earliest staging time and the
/// latest publication time among its rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusGroup<'a> {
    /// The rows' topic.
    pub topic: &'a str,
    /// The rows' status, as stored (`pending`, `leased`, `published`, `dead`).
    pub status: &'a str,
    /// How many rows.
    pub count: i64,
    /// The earliest `created_at` of the rows.
    pub first_created: Option<DateTime<Utc>>,
    /// The latest `published_at` of the rows.
    pub last_published: Option<DateTime<Utc>>,
}

impl TopicStats {
    /// Per-topic statistics, sorted by topic, from the groups a `GROUP BY topic, status` (or
    /// its equivalent) returns; unknown statuses are ignored.
    pub fn from_groups<'a>(groups: impl IntoIterator<Item = StatusGroup<'a>>) -> Vec<Self> {
        let mut topics: BTreeMap<&str, TopicStats> = BTreeMap::new();
        for group in groups {
            let stats = topics.entry(group.topic).or_insert_with(|| TopicStats {
                topic: group.topic.to_owned(),
                ..TopicStats::default()
            });
            let count = u64::try_from(group.count).unwrap_or(0);
            match RecordStatus::parse(group.status) {
                Some(RecordStatus::Pending) => {
                    stats.counts.pending += count;
                    stats.oldest_pending = earliest(stats.oldest_pending, group.first_created);
                }
                Some(RecordStatus::Leased) => stats.counts.leased += count,
                Some(RecordStatus::Published) => {
                    stats.counts.published += count;
                    stats.last_published = stats.last_published.max(group.last_published);
                }
                Some(RecordStatus::Dead) => stats.counts.dead += count,
                None => {}
            }
        }
        topics.into_values().collect()
    }
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A page of the rows published in `[from, to)`, in sequence order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublishedQuery {
    /// Published at or after this time.
    pub from: DateTime<Utc>,
    /// Published before this time.
    pub to: DateTime<Utc>,
    /// Only rows after this sequence (the last one of the previous page).
    pub after_sequence: Option<i64>,
    /// Most rows to return.
    pub limit: usize,
}

impl PublishedQuery {
    /// The first page of up to `limit` rows published in `[from, to)`.
    pub fn between(from: DateTime<Utc>, to: DateTime<Utc>, limit: usize) -> Self {
        Self {
            from,
            to,
            after_sequence: None,
            limit,
        }
    }

    /// The page after the row with `sequence`.
    pub fn after(mut self, sequence: i64) -> Self {
        self.after_sequence = Some(sequence);
        self
    }

    /// Whether a row published at `published_at` with `sequence` belongs to this page's range.
    pub fn admits(&self, published_at: DateTime<Utc>, sequence: i64) -> bool {
        published_at >= self.from
            && published_at < self.to
            && self.after_sequence.is_none_or(|after| sequence > after)
    }
}

/// Operators' reads of an outbox.
pub trait OutboxInspector: Send + Sync {
    /// Rows per topic, sorted by topic.
    fn topic_stats(&self) -> impl Future<Output = Result<Vec<TopicStats>>> + Send;

    /// Published rows (still kept by retention) of the query's range, in sequence order, which
    /// is each key's original order.
    fn list_published(
        &self,
        query: &PublishedQuery,
    ) -> impl Future<Output = Result<Vec<OutboxRecord>>> + Send;
}

impl<T: OutboxInspector + ?Sized> OutboxInspector for Arc<T> {
    fn topic_stats(&self) -> impl Future<Output = Result<Vec<TopicStats>>> + Send {
        (**self).topic_stats()
    }

    fn list_published(
        &self,
        query: &PublishedQuery,
    ) -> impl Future<Output = Result<Vec<OutboxRecord>>> + Send {
        (**self).list_published(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_become_topics_with_the_oldest_pending_and_the_last_publication() {
        let at = |s: i64| DateTime::from_timestamp(s, 0);
        let group = |topic, status, count, first: i64, last: i64| StatusGroup {
            topic,
            status,
            count,
            first_created: at(first),
            last_published: at(last),
        };
        let topics = TopicStats::from_groups([
            group("orders", "pending", 2, 50, 0),
            group("audit", "published", 4, 10, 90),
            group("orders", "published", 1, 5, 70),
            group("orders", "dead", 1, 1, 0),
            group("audit", "leased", 3, 1, 0),
        ]);
        let names: Vec<&str> = topics.iter().map(|t| t.topic.as_str()).collect();
        assert_eq!(names, ["audit", "orders"]);
        assert_eq!(topics[0].counts, OutboxStats::new(0, 3, 4, 0));
        assert_eq!(topics[0].oldest_pending, None);
        assert_eq!(topics[0].last_published, at(90));
        assert_eq!(topics[1].counts, OutboxStats::new(2, 0, 1, 1));
        assert_eq!(topics[1].oldest_pending, at(50));
        assert_eq!(topics[1].last_published, at(70));
    }
}
