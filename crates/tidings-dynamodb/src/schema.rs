//! The tables, as [`DynamoBackend::create_tables`] makes them. The same definitions for
//! CloudFormation and Terraform are in `docs/dynamodb.md`.

use std::time::Duration;

use aws_sdk_dynamodb::{
    Client,
    client::Waiters,
    operation::create_table::builders::CreateTableFluentBuilder,
    types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        LocalSecondaryIndex, Projection, ProjectionType, ScalarAttributeType,
        TimeToLiveSpecification, TimeToLiveStatus,
    },
};
use tidings_core::{Error, Result};

use crate::{
    DynamoBackend,
    error::{classify, request_build},
    item::{attr, index},
};

/// How long [`DynamoBackend::create_tables`] waits for a new table to become active.
const CREATION_TIMEOUT: Duration = Duration::from_secs(300);

pub(crate) fn attribute(name: &str, kind: ScalarAttributeType) -> Result<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .map_err(request_build)
}

pub(crate) fn element(name: &str, kind: KeyType) -> Result<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(request_build)
}

pub(crate) fn key(hash: &str, range: &str) -> Result<Vec<KeySchemaElement>> {
    [(hash, KeyType::Hash), (range, KeyType::Range)]
        .into_iter()
        .map(|(name, kind)| element(name, kind))
        .collect()
}

pub(crate) fn projection(kind: ProjectionType) -> Projection {
    Projection::builder().projection_type(kind).build()
}

/// Sends `request` for `table` — a table that exists already is left as it is — and waits
/// until the table is active.
pub(crate) async fn create_and_wait(
    client: &Client,
    table: &str,
    request: CreateTableFluentBuilder,
) -> Result<()> {
    match request.send().await {
        Ok(_) => {}
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(error) => return Err(classify("CreateTable", error)),
    }
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(CREATION_TIMEOUT)
        .await
        .map_err(|e| Error::unavailable(format!("table {table} did not become active: {e}")))?;
    Ok(())
}

/// Deletes `table`; one that does not exist is no error.
pub(crate) async fn delete_if_exists(client: &Client, table: &str) -> Result<()> {
    match client.delete_table().table_name(table).send().await {
        Ok(_) => Ok(()),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(error) => Err(classify("DeleteTable", error)),
    }
}

impl DynamoBackend {
    /// Creates the outbox and inbox tables (on-demand capacity) with their indexes, waits until
    /// they are active and turns on their TTL attribute, `expires_at`. Tables that exist are
    /// left as they are, so this is safe at every start; services whose tables are managed by
    /// CloudFormation or Terraform do not need it.
    ///
    /// The outbox: key `pk` (S, the partition key) + `sk` (N, the sequence; 0 for the key
    /// item); local index `open` (`pk` + `open_seq`, all attributes); global indexes
    /// `active` (`shard` + `active_since`, keys only) and `dead` (`dead_letter` + `sk`, all
    /// attributes). The inbox: key `consumer` (S) + `id` (S).
    pub async fn create_tables(&self) -> Result<()> {
        use ScalarAttributeType::{N, S};
        let outbox = self
            .client
            .create_table()
            .table_name(self.tables.outbox())
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(vec![
                attribute(attr::PK, S)?,
                attribute(attr::SK, N)?,
                attribute(attr::OPEN, N)?,
                attribute(attr::SHARD, N)?,
                attribute(attr::SINCE, N)?,
                attribute(attr::DEAD, N)?,
            ]))
            .set_key_schema(Some(key(attr::PK, attr::SK)?))
            .local_secondary_indexes(
                LocalSecondaryIndex::builder()
                    .index_name(index::OPEN)
                    .set_key_schema(Some(key(attr::PK, attr::OPEN)?))
                    .projection(projection(ProjectionType::All))
                    .build()
                    .map_err(request_build)?,
            )
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index::ACTIVE)
                    .set_key_schema(Some(key(attr::SHARD, attr::SINCE)?))
                    .projection(projection(ProjectionType::KeysOnly))
                    .build()
                    .map_err(request_build)?,
            )
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index::DEAD)
                    .set_key_schema(Some(key(attr::DEAD, attr::SK)?))
                    .projection(projection(ProjectionType::All))
                    .build()
                    .map_err(request_build)?,
            );
        let inbox = self
            .client
            .create_table()
            .table_name(self.tables.inbox())
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(vec![
                attribute(attr::CONSUMER, S)?,
                attribute(attr::ID, S)?,
            ]))
            .set_key_schema(Some(key(attr::CONSUMER, attr::ID)?));
        for (table, request) in [(self.tables.outbox(), outbox), (self.tables.inbox(), inbox)] {
            create_and_wait(&self.client, table, request).await?;
            self.enable_ttl(table).await?;
        }
        Ok(())
    }

    async fn enable_ttl(&self, table: &str) -> Result<()> {
        let described = self
            .client
            .describe_time_to_live()
            .table_name(table)
            .send()
            .await
            .map_err(|e| classify("DescribeTimeToLive", e))?;
        let status = described
            .time_to_live_description()
            .and_then(|d| d.time_to_live_status());
        if matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            return Ok(());
        }
        self.client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(attr::EXPIRES)
                    .build()
                    .map_err(request_build)?,
            )
            .send()
            .await
            .map_err(|e| classify("UpdateTimeToLive", e))?;
        Ok(())
    }

    /// Deletes both tables (for tests and teardown).
    pub async fn delete_tables(&self) -> Result<()> {
        for table in [self.tables.outbox(), self.tables.inbox()] {
            delete_if_exists(&self.client, table).await?;
        }
        Ok(())
    }
}
