//! Operators' reads of the MongoDB outbox: counts per topic (one `$group` by topic and
//! status), published rows of a range.

use mongodb::bson::{Bson, Document, doc};
use tidings_core::{
    OutboxInspector, OutboxRecord, PublishedQuery, Result, StatusGroup, TopicStats,
};

use crate::{
    MongoBackend,
    document::{PUBLISHED, date, from_date, to_record},
    query::all,
};

/// A group's `_id.topic`, `_id.status`, count and times, as the `$group` stage writes them.
fn group(document: &Document) -> Option<StatusGroup<'_>> {
    let id = document.get_document("_id").ok()?;
    let count = match document.get("n")? {
        Bson::Int32(n) => i64::from(*n),
        Bson::Int64(n) => *n,
        _ => return None,
    };
    let time = |field: &str| document.get_datetime(field).ok().copied().map(from_date);
    Some(StatusGroup {
        topic: id.get_str("topic").ok()?,
        status: id.get_str("status").ok()?,
        count,
        first_created: time("first_created"),
        last_published: time("last_published"),
    })
}

impl OutboxInspector for MongoBackend {
    async fn topic_stats(&self) -> Result<Vec<TopicStats>> {
        let groups = all(self.outbox.aggregate([doc! { "$group": {
            "_id": { "topic": "$topic", "status": "$status" },
            "n": { "$sum": 1 },
            "first_created": { "$min": "$created_at" },
            "last_published": { "$max": "$published_at" },
        } }]))
        .await?;
        Ok(TopicStats::from_groups(groups.iter().filter_map(group)))
    }

    async fn list_published(&self, query: &PublishedQuery) -> Result<Vec<OutboxRecord>> {
        let documents = all(self
            .outbox
            .find(doc! {
                "status": PUBLISHED,
                "published_at": { "$gte": date(query.from), "$lt": date(query.to) },
                "sequence": { "$gt": query.after_sequence.unwrap_or(i64::MIN) },
            })
            .sort(doc! { "sequence": 1 })
            .limit(i64::try_from(query.limit).unwrap_or(i64::MAX)))
        .await?;
        documents.iter().map(to_record).collect()
    }
}
