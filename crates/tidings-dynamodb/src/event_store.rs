//! The persistent publisher's copies in a DynamoDB table.
//!
//! An item per storage id (key `storage_id`). DynamoDB has no order across partitions, so two
//! global indexes give one: `created` (every copy, under the constant `stream`) and the sparse
//! `unpublished` (copies whose `pending` attribute is set), both sorted by `created_order` —
//! the creation time in microseconds, zero-padded, `#`, the storage id — and projecting every
//! attribute. Global indexes are eventually consistent: a copy stored a moment ago may be
//! missing from a page, and is found by the next `publish_pending`.

use std::time::Duration;

use aws_sdk_dynamodb::{
    Client,
    types::{
        AttributeValue, BillingMode, GlobalSecondaryIndex, KeyType, ProjectionType, PutRequest,
        ScalarAttributeType, WriteRequest,
    },
};
use chrono::{DateTime, Utc};
use tidings_core::{EventStore, MessageId, Result, StoredEvent, StoredEventQuery};

use crate::{
    change::Change,
    error::{classify, corrupt, request_build},
    item::{Item, attr, envelope_keyed_by, micros, put_envelope, s, time},
    json::to_attribute,
    schema::{attribute, create_and_wait, delete_if_exists, element, key, projection},
    settle::count_applied,
    tables::validate,
};

/// Attribute and index names of the event table.
mod name {
    pub(super) const STORAGE_ID: &str = "storage_id";
    pub(super) const KEY: &str = "partition_key";
    pub(super) const CREATED: &str = "created";
    pub(super) const ORDER: &str = "created_order";
    pub(super) const STREAM: &str = "stream";
    pub(super) const PENDING: &str = "pending";
    pub(super) const PUBLISHED: &str = "published";
    pub(super) const ALL_INDEX: &str = "created";
    pub(super) const UNPUBLISHED_INDEX: &str = "unpublished";
}

/// The value of `stream` on every copy: the `created` index's one partition.
const STREAM: &str = "events";
/// Most puts in one `BatchWriteItem` call.
const BATCH: usize = 25;

/// The persistent publisher's copies in a DynamoDB table (by default
/// `tidings_published_events`). JSON payloads are kept as maps (see
/// [`StoredEvent::json_payload`]), others as binary.
#[derive(Clone, Debug)]
pub struct DynamoEventStore {
    client: Client,
    table: String,
}

/// The sort key of the indexes: `created` then storage id, as text that sorts that way.
fn order(created: DateTime<Utc>, storage_id: &str) -> String {
    let micros = u64::try_from(created.timestamp_micros()).unwrap_or(0);
    format!("{micros:020}#{storage_id}")
}

impl DynamoEventStore {
    /// The store in table `tidings_published_events`, over `client`. Call
    /// [`create_table`](Self::create_table) once, or make the table as it describes.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            table: "tidings_published_events".to_owned(),
        }
    }

    /// Keeps the copies in table `table` (checked against DynamoDB's naming rules).
    pub fn with_table(mut self, table: &str) -> Result<Self> {
        validate(table)?;
        self.table = table.to_owned();
        Ok(self)
    }

    /// The table.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn item(event: &StoredEvent) -> Result<Item> {
        let payload = event.json_payload().map_or_else(
            || AttributeValue::B(event.envelope.payload.clone().into()),
            |json| to_attribute(&json),
        );
        let mut item = Item::new();
        put_envelope(&mut item, &event.envelope, payload)?;
        for (attribute, value) in [
            (name::STORAGE_ID, s(&event.storage_id)),
            (name::KEY, s(&event.envelope.key)),
            (name::CREATED, micros(event.created)),
            (name::ORDER, s(order(event.created, &event.storage_id))),
            (name::STREAM, s(STREAM)),
            (name::PENDING, AttributeValue::N("1".to_owned())),
            (name::PUBLISHED, AttributeValue::Bool(false)),
        ] {
            item.insert(attribute.to_owned(), value);
        }
        Ok(item)
    }

    fn key(storage_id: &str) -> Item {
        Item::from([(name::STORAGE_ID.to_owned(), s(storage_id))])
    }
}

fn stored(item: &Item) -> Result<StoredEvent> {
    let text = |attribute: &str| {
        item.get(attribute)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or_else(|| corrupt("stored event", format!("no text {attribute}")))
    };
    let created = time(item, name::CREATED).ok_or_else(|| corrupt("stored event", "no created"))?;
    let published = matches!(item.get(name::PUBLISHED), Some(AttributeValue::Bool(true)));
    Ok(StoredEvent::new(
        text(name::STORAGE_ID)?,
        envelope_keyed_by(item, name::KEY)?,
        created,
    )
    .with_published(published))
}

impl EventStore for DynamoEventStore {
    /// One `BatchWriteItem` per 25 copies; what DynamoDB leaves unprocessed is sent again.
    async fn store(&self, events: &[StoredEvent]) -> Result<()> {
        for chunk in events.chunks(BATCH) {
            let mut requests = chunk
                .iter()
                .map(|event| {
                    let put = PutRequest::builder()
                        .set_item(Some(Self::item(event)?))
                        .build()
                        .map_err(request_build)?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>>>()?;
            let mut backoff = Duration::from_millis(10);
            while !requests.is_empty() {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| classify("BatchWriteItem", e))?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default();
                if !requests.is_empty() {
                    // Throttled: DynamoDB asks for exponential backoff before the retry.
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
        Ok(())
    }

    /// One conditional `UpdateItem` per copy, sent side by side.
    async fn mark_published(&self, events: &[(String, MessageId)]) -> Result<u64> {
        let writes = events.iter().map(|(storage_id, id)| {
            let change = Change::new("SET #published = :yes REMOVE #pending")
                .when("#id = :id")
                .name("#published", name::PUBLISHED)
                .name("#pending", name::PENDING)
                .name("#id", attr::ID)
                .value(":yes", AttributeValue::Bool(true))
                .value(":id", s(id.as_str()));
            async move {
                change
                    .apply(&self.client, &self.table, Self::key(storage_id))
                    .await
            }
        });
        count_applied(writes.collect()).await
    }

    async fn page(&self, query: &StoredEventQuery) -> Result<Vec<StoredEvent>> {
        let (index, partition, value) = if query.unpublished_only {
            (
                name::UNPUBLISHED_INDEX,
                name::PENDING,
                AttributeValue::N("1".to_owned()),
            )
        } else {
            (name::ALL_INDEX, name::STREAM, s(STREAM))
        };
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .expression_attribute_names("#partition", partition)
            .expression_attribute_values(":partition", value)
            .limit(i32::try_from(query.limit).unwrap_or(i32::MAX));
        // A key condition may not compare with an empty string: the first page has none.
        request = match &query.after {
            Some((created, id)) => request
                .key_condition_expression("#partition = :partition AND #order > :after")
                .expression_attribute_names("#order", name::ORDER)
                .expression_attribute_values(":after", s(order(*created, id))),
            None => request.key_condition_expression("#partition = :partition"),
        };
        let output = request.send().await.map_err(|e| classify("Query", e))?;
        output.items().iter().map(stored).collect()
    }

    async fn assign_event_id(&self, storage_id: &str, id: &MessageId) -> Result<bool> {
        Change::new("SET #id = :id")
            .when("#id = :none")
            .name("#id", attr::ID)
            .value(":id", s(id.as_str()))
            .value(":none", s(""))
            .apply(&self.client, &self.table, Self::key(storage_id))
            .await
    }
}

impl DynamoEventStore {
    /// Creates the table (on-demand capacity) with its two indexes and waits until it is
    /// active; a table that exists is left as it is. Key `storage_id` (S); global indexes
    /// `created` (`stream` S + `created_order` S) and `unpublished` (`pending` N +
    /// `created_order` S), both projecting every attribute.
    pub async fn create_table(&self) -> Result<()> {
        use ScalarAttributeType::{N, S};
        let index = |index: &str, partition: &str| -> Result<GlobalSecondaryIndex> {
            GlobalSecondaryIndex::builder()
                .index_name(index)
                .set_key_schema(Some(key(partition, name::ORDER)?))
                .projection(projection(ProjectionType::All))
                .build()
                .map_err(request_build)
        };
        let request = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute(name::STORAGE_ID, S)?)
            .attribute_definitions(attribute(name::STREAM, S)?)
            .attribute_definitions(attribute(name::PENDING, N)?)
            .attribute_definitions(attribute(name::ORDER, S)?)
            .key_schema(element(name::STORAGE_ID, KeyType::Hash)?)
            .global_secondary_indexes(index(name::ALL_INDEX, name::STREAM)?)
            .global_secondary_indexes(index(name::UNPUBLISHED_INDEX, name::PENDING)?);
        create_and_wait(&self.client, &self.table, request).await
    }

    /// Deletes the table (for tests and teardown); a table that does not exist is no error.
    pub async fn delete_table(&self) -> Result<()> {
        delete_if_exists(&self.client, &self.table).await
    }
}
