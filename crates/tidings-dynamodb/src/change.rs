//! Conditional writes, written once: an update sent on its own (`UpdateItem`) or as an item of
//! a transaction, and a filter that finds items by scan and deletes each while it still holds.

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    Client,
    config::http::HttpResponse,
    error::{ProvideErrorMetadata, SdkError},
    operation::scan::builders::ScanFluentBuilder,
    types::{AttributeValue, TransactWriteItem, Update},
};
use tidings_core::Result;

use crate::{
    error::{classify, request_build},
    item::Item,
};

#[derive(Clone, Debug)]
pub(crate) struct Change {
    update: Option<String>,
    condition: Option<String>,
    names: HashMap<String, String>,
    values: Item,
}

impl Change {
    /// A change made by update expression `update`.
    pub(crate) fn new(update: impl Into<String>) -> Self {
        Self {
            update: Some(update.into()),
            condition: None,
            names: HashMap::new(),
            values: HashMap::new(),
        }
    }

    /// A filter: no update, only the condition `condition`.
    pub(crate) fn filter(condition: impl Into<String>) -> Self {
        Self {
            update: None,
            condition: None,
            names: HashMap::new(),
            values: HashMap::new(),
        }
        .when(condition)
    }

    /// Applies the change only where `condition` holds.
    pub(crate) fn when(mut self, condition: impl Into<String>) -> Self {
        self.condition = Some(condition.into());
        self
    }

    /// Binds `#placeholder` to attribute `name` (every attribute goes through a placeholder:
    /// `status`, `time` and many other plain words are reserved in DynamoDB expressions).
    pub(crate) fn name(mut self, placeholder: &str, name: &str) -> Self {
        self.names.insert(placeholder.to_owned(), name.to_owned());
        self
    }

    /// Binds `:placeholder` to `value`.
    pub(crate) fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.to_owned(), value);
        self
    }

    /// The change as an item of a transaction.
    pub(crate) fn transact_item(&self, table: &str, key: Item) -> Result<TransactWriteItem> {
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(key))
            .set_update_expression(self.update.clone())
            .set_condition_expression(self.condition.clone())
            .set_expression_attribute_names(Some(self.names.clone()))
            .set_expression_attribute_values(self.values())
            .build()
            .map_err(request_build)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Sends the change on its own; `false` when its condition did not hold.
    pub(crate) async fn apply(&self, client: &Client, table: &str, key: Item) -> Result<bool> {
        let sent = client
            .update_item()
            .table_name(table)
            .set_key(Some(key))
            .set_update_expression(self.update.clone())
            .set_condition_expression(self.condition.clone())
            .set_expression_attribute_names(Some(self.names.clone()))
            .set_expression_attribute_values(self.values())
            .send()
            .await;
        applied_unless("UpdateItem", CONDITION_FAILED, sent)
    }

    fn values(&self) -> Option<Item> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    /// A scan for the items the filter selects, reading only their keys `key_names`.
    pub(crate) fn scan(
        &self,
        client: &Client,
        table: &str,
        key_names: [&str; 2],
    ) -> ScanFluentBuilder {
        let mut names = self.names.clone();
        names.insert("#key0".to_owned(), key_names[0].to_owned());
        names.insert("#key1".to_owned(), key_names[1].to_owned());
        client
            .scan()
            .table_name(table)
            .set_filter_expression(self.condition.clone())
            .projection_expression("#key0, #key1")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(self.values())
    }

    /// Deletes the item at `key` if the filter still selects it; `false` when it does not.
    pub(crate) async fn delete(&self, client: &Client, table: &str, key: Item) -> Result<bool> {
        let sent = client
            .delete_item()
            .table_name(table)
            .set_key(Some(key))
            .set_condition_expression(self.condition.clone())
            .set_expression_attribute_names(Some(self.names.clone()))
            .set_expression_attribute_values(self.values())
            .send()
            .await;
        applied_unless("DeleteItem", CONDITION_FAILED, sent)
    }
}

/// Sends `items` as one transaction; `false` when DynamoDB cancelled it (a condition did not
/// hold, or a concurrent transaction touched an item).
pub(crate) async fn transact(client: &Client, items: Vec<TransactWriteItem>) -> Result<bool> {
    let sent = client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await;
    applied_unless("TransactWriteItems", "TransactionCanceledException", sent)
}

/// The error code of a write whose condition did not hold.
const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

/// Whether a write was applied: `false` when DynamoDB refused it with error code `refusal`;
/// any other failure is an error.
fn applied_unless<T, E>(
    operation: &'static str,
    refusal: &str,
    sent: std::result::Result<T, SdkError<E, HttpResponse>>,
) -> Result<bool>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match sent {
        Ok(_) => Ok(true),
        Err(error) if error.code() == Some(refusal) => Ok(false),
        Err(error) => Err(classify(operation, error)),
    }
}
