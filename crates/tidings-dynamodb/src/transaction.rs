use std::collections::HashSet;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use tidings_core::{Envelope, Error, MessageId, Result};

use crate::{
    error::{DynamoError, MAX_ITEM_BYTES, MAX_TRANSACTION_ITEMS, request_build},
    item::{Item, write_size},
};

/// The transaction a handler writes its own data in: DynamoDB writes collected until the unit
/// of work commits them, with the staged events and the inbox claim, in one
/// `TransactWriteItems` call. Nothing reaches DynamoDB before that call, so a rollback is
/// dropping the collection.
///
/// Add writes with [`put`](Self::put) or, for updates, deletes and condition checks (an
/// optimistic lock on an aggregate's version, say), with [`push`](Self::push).
#[derive(Debug)]
pub struct DynamoTransaction {
    pub(crate) writes: Vec<TransactWriteItem>,
    pub(crate) claims: Vec<(String, MessageId)>,
    pub(crate) staged: Vec<Envelope>,
    /// `ClientRequestToken` of the commit: DynamoDB applies a call with a token it has seen
    /// succeed in the last 10 minutes only once, so a commit retried after an unknown outcome
    /// is not applied twice.
    pub(crate) token: String,
}

impl DynamoTransaction {
    pub(crate) fn new() -> Self {
        Self {
            writes: Vec::new(),
            claims: Vec::new(),
            staged: Vec::new(),
            token: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Adds a write of the handler's own: any `TransactWriteItem` (put, update, delete or
    /// condition check). Refused with [`DynamoError::TooManyItems`] when the transaction
    /// already holds the most DynamoDB takes, and with [`DynamoError::ItemTooLarge`] for an
    /// item over 400 KB.
    pub fn push(&mut self, write: TransactWriteItem) -> Result<&mut Self> {
        let bytes = write_size(&write);
        if bytes > MAX_ITEM_BYTES {
            return Err(Error::backend(DynamoError::ItemTooLarge {
                what: format!("handler write #{}", self.writes.len()),
                bytes,
            }));
        }
        self.writes.push(write);
        if let Err(e) = self.check_item_count() {
            self.writes.pop();
            return Err(e);
        }
        Ok(self)
    }

    /// Adds a put of `item` into `table`.
    pub fn put(&mut self, table: impl Into<String>, item: Item) -> Result<&mut Self> {
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .build()
            .map_err(request_build)?;
        self.push(TransactWriteItem::builder().put(put).build())
    }

    /// The handler's writes so far.
    pub fn writes(&self) -> &[TransactWriteItem] {
        &self.writes
    }

    /// The idempotency token the commit is sent with.
    pub fn client_request_token(&self) -> &str {
        &self.token
    }

    /// Refuses a transaction that would hold more items than DynamoDB takes: the handler's
    /// writes, the inbox claims, one row per event and one key item per partition key.
    pub(crate) fn check_item_count(&self) -> Result<()> {
        let keys = self
            .staged
            .iter()
            .map(|envelope| envelope.key.as_str())
            .collect::<HashSet<_>>()
            .len();
        let items = self.writes.len() + self.claims.len() + self.staged.len() + keys;
        if items <= MAX_TRANSACTION_ITEMS {
            return Ok(());
        }
        Err(Error::backend(DynamoError::TooManyItems {
            items,
            business: self.writes.len(),
            events: self.staged.len(),
            keys,
            claims: self.claims.len(),
        }))
    }
}
