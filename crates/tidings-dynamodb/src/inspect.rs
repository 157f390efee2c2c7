//! Operators' reads of the DynamoDB outbox. DynamoDB has no `GROUP BY` and no index by topic or
//! publication time, so both read the table with a scan: fine for an operator's command, not
//! for a hot path. Key items (no status) are passed over.

use aws_sdk_dynamodb::types::AttributeValue;
use tidings_core::{
    OutboxInspector, OutboxRecord, PublishedQuery, Result, StatusGroup, TopicStats,
};

use crate::{
    DynamoBackend,
    error::classify,
    item::{self, Item, attr, number, s},
};

/// A scan's filter expression with its attribute names and values.
struct Filter<'a> {
    expression: &'a str,
    names: Vec<(&'a str, &'a str)>,
    values: Vec<(&'a str, AttributeValue)>,
}

impl DynamoBackend {
    /// Every outbox item the scan's `filter` keeps (with its names and values), projected to
    /// `projection` when given.
    async fn scan_rows(
        &self,
        projection: Option<&str>,
        filter: Option<Filter<'_>>,
    ) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut cursor: Option<Item> = None;
        loop {
            let mut scan = self
                .client
                .scan()
                .table_name(self.tables.outbox())
                .set_projection_expression(projection.map(str::to_owned))
                .set_exclusive_start_key(cursor.take());
            if projection.is_some() {
                for (name, value) in PROJECTED {
                    scan = scan.expression_attribute_names(name, value);
                }
            }
            if let Some(filter) = &filter {
                scan = scan.filter_expression(filter.expression);
                for (name, value) in &filter.names {
                    scan = scan.expression_attribute_names(*name, *value);
                }
                for (name, value) in &filter.values {
                    scan = scan.expression_attribute_values(*name, value.clone());
                }
            }
            let page = scan.send().await.map_err(|e| classify("Scan", e))?;
            items.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(key) => cursor = Some(key.clone()),
                None => return Ok(items),
            }
        }
    }
}

/// The attributes `topic_stats` reads.
const PROJECTED: [(&str, &str); 4] = [
    ("#topic", attr::TOPIC),
    ("#status", attr::STATUS),
    ("#created", attr::CREATED),
    ("#published", attr::PUBLISHED),
];

impl OutboxInspector for DynamoBackend {
    async fn topic_stats(&self) -> Result<Vec<TopicStats>> {
        let items = self
            .scan_rows(Some("#topic, #status, #created, #published"), None)
            .await?;
        let groups = items.iter().filter_map(|item| {
            Some(StatusGroup {
                topic: item.get(attr::TOPIC)?.as_s().ok()?,
                status: item.get(attr::STATUS)?.as_s().ok()?,
                count: 1,
                first_created: item::time(item, attr::CREATED),
                last_published: item::time(item, attr::PUBLISHED),
            })
        });
        Ok(TopicStats::from_groups(groups))
    }

    async fn list_published(&self, query: &PublishedQuery) -> Result<Vec<OutboxRecord>> {
        let filter = Filter {
            expression: "#status = :published AND #published >= :from AND #published < :to",
            names: vec![("#status", attr::STATUS), ("#published", attr::PUBLISHED)],
            values: vec![
                (":published", s(item::PUBLISHED)),
                (":from", item::micros(query.from)),
                (":to", item::micros(query.to)),
            ],
        };
        let mut items: Vec<Item> = self
            .scan_rows(None, Some(filter))
            .await?
            .into_iter()
            .filter(|item| {
                let sequence = number(item, attr::SK).unwrap_or(0);
                query.after_sequence.is_none_or(|after| sequence > after)
            })
            .collect();
        items.sort_by_key(|item| number(item, attr::SK).unwrap_or(0));
        items
            .iter()
            .take(query.limit)
            .map(|item| item::row_view(item).map(|view| view.record))
            .collect()
    }
}
