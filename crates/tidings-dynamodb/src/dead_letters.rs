//! Dead letters: rows that carry `dead_letter`, which puts them in the sparse `dead` index in
//! sequence order. Listing reads that index; retrying and purging find rows by id in it (dead
//! letters are few, and the index holds nothing else).

use chrono::{DateTime, Utc};
use tidings_core::{DeadLetterQuery, MessageId, OutboxRecord, Result};

use crate::{
    DynamoBackend,
    change::{Change, transact},
    commit::shard_of,
    error::classify,
    item::{self, DEAD, Item, PENDING, attr, index, micros, n, number, outbox_key, s},
    settle::count_applied,
};

/// A dead letter's address.
struct DeadRow {
    key: String,
    sequence: i64,
    id: MessageId,
}

impl DynamoBackend {
    /// Up to `limit` items of the `dead` index after sequence `after`; only their keys and ids
    /// with `keys_only`.
    async fn dead_items(
        &self,
        after: i64,
        limit: Option<usize>,
        keys_only: bool,
    ) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut cursor: Option<Item> = None;
        loop {
            let wanted = limit.map(|limit| limit.saturating_sub(items.len()));
            if wanted == Some(0) {
                break;
            }
            let mut query = self
                .client
                .query()
                .table_name(self.tables.outbox())
                .index_name(index::DEAD)
                .key_condition_expression("#dead = :one AND #sk > :after")
                .expression_attribute_names("#dead", attr::DEAD)
                .expression_attribute_names("#sk", attr::SK)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":after", n(after))
                .set_exclusive_start_key(cursor.take())
                .set_limit(wanted.map(|w| i32::try_from(w).unwrap_or(i32::MAX)));
            if keys_only {
                query = query
                    .projection_expression("#pk, #sk, #id")
                    .expression_attribute_names("#pk", attr::PK)
                    .expression_attribute_names("#id", attr::ID);
            }
            let page = query.send().await.map_err(|e| classify("Query", e))?;
            items.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(key) => cursor = Some(key.clone()),
                None => break,
            }
        }
        Ok(items)
    }

    pub(crate) async fn list_dead(&self, query: &DeadLetterQuery) -> Result<Vec<OutboxRecord>> {
        self.dead_items(query.after_sequence.unwrap_or(0), Some(query.limit), false)
            .await?
            .iter()
            .map(|item| item::row_view(item).map(|view| view.record))
            .collect()
    }

    async fn find_dead(&self, ids: &[MessageId]) -> Result<Vec<DeadRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .dead_items(0, None, true)
            .await?
            .iter()
            .filter_map(|item| {
                let id = MessageId::from(item.get(attr::ID)?.as_s().ok()?.as_str());
                ids.contains(&id).then(|| {
                    Some(DeadRow {
                        key: item.get(attr::PK)?.as_s().ok()?.clone(),
                        sequence: number(item, attr::SK)?,
                        id,
                    })
                })?
            })
            .collect())
    }

    /// Makes each row pending again in place and marks its key active, in one transaction per
    /// row.
    pub(crate) async fn retry_dead(&self, ids: &[MessageId], now: DateTime<Utc>) -> Result<u64> {
        let rows = self.find_dead(ids).await?;
        let table = self.tables.outbox();
        let writes = rows
            .into_iter()
            .map(|row| async move {
                let revive = Change::new(
                    "SET #status = :pending, #attempts = :zero, #due = :now, #open = :seq \
                     REMOVE #dead",
                )
                .when("#status = :dead AND #id = :id")
                .name("#status", attr::STATUS)
                .name("#attempts", attr::ATTEMPTS)
                .name("#due", attr::DUE)
                .name("#open", attr::OPEN)
                .name("#dead", attr::DEAD)
                .name("#id", attr::ID)
                .value(":pending", s(PENDING))
                .value(":dead", s(DEAD))
                .value(":zero", n(0))
                .value(":now", micros(now))
                .value(":seq", n(row.sequence))
                .value(":id", s(row.id.as_str()));
                let activate = Change::new(
                    "SET #shard = :shard, #since = if_not_exists(#since, :seq) REMOVE #expires",
                )
                .name("#shard", attr::SHARD)
                .name("#since", attr::SINCE)
                .name("#expires", attr::EXPIRES)
                .value(":shard", n(shard_of(&row.key, self.shards)))
                .value(":seq", n(row.sequence));
                let items = vec![
                    revive.transact_item(table, outbox_key(&row.key, row.sequence))?,
                    activate.transact_item(table, outbox_key(&row.key, 0))?,
                ];
                transact(&self.client, items).await
            })
            .collect();
        count_applied(writes).await
    }

    pub(crate) async fn purge_dead(&self, ids: &[MessageId]) -> Result<u64> {
        let rows = self.find_dead(ids).await?;
        let table = self.tables.outbox();
        let writes = rows
            .into_iter()
            .map(|row| async move {
                Change::filter("#status = :dead AND #id = :id")
                    .name("#status", attr::STATUS)
                    .name("#id", attr::ID)
                    .value(":dead", s(DEAD))
                    .value(":id", s(row.id.as_str()))
                    .delete(&self.client, table, outbox_key(&row.key, row.sequence))
                    .await
            })
            .collect();
        count_applied(writes).await
    }
}
