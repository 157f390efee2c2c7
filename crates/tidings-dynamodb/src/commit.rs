//! The commit: the handler's writes, the inbox claims, the outbox rows and one item per
//! partition key, sent as ONE `TransactWriteItems` call.
//!
//! DynamoDB answers a refused transaction with a reason per item, and the adapter resolves the
//! reasons that are its own business:
//! - a claim's condition failed: the message was applied before → [`Error::AlreadyApplied`],
//!   which the unit of work reports as a duplicate;
//! - a key item's condition failed: another host committed a higher sequence for the key → the
//!   rows get sequences above it and the commit is sent again (so sequences follow commit
//!   order);
//! - a conflict with a concurrent transaction → the commit is sent again after a backoff (and
//!   a concurrent delivery that has committed meanwhile makes this one a duplicate);
//! - anything else (a condition of the handler's own write, a validation error) is an error
//!   naming the item and the reason.

use std::time::Duration;

use aws_sdk_dynamodb::{
    operation::transact_write_items::TransactWriteItemsError,
    types::{
        CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
    },
};
use chrono::{DateTime, Utc};
use tidings_core::{Error, Result};

use crate::{
    DynamoBackend, DynamoTransaction,
    error::{
        CancelledItem, DynamoError, MAX_ITEM_BYTES, MAX_TRANSACTION_BYTES, classify,
        outcome_unknown, request_build,
    },
    item::{self, attr, expiry, inbox_key, micros, n, number, outbox_key, write_size},
};

/// Sends of one commit before it gives up on conflicts.
const MAX_COMMIT_ATTEMPTS: u32 = 8;

/// The cancellation reason codes DynamoDB gives per item.
mod reason_code {
    /// The item was fine; another one cancelled the transaction.
    pub(super) const NONE: &str = "None";
    /// The item's condition expression was false.
    pub(super) const CONDITIONAL_CHECK_FAILED: &str = "ConditionalCheckFailed";
    /// Another transaction was writing the item.
    pub(super) const TRANSACTION_CONFLICT: &str = "TransactionConflict";
    /// The table's request rate was exceeded.
    pub(super) const THROTTLING_ERROR: &str = "ThrottlingError";
    /// The table's provisioned throughput was exceeded.
    pub(super) const PROVISIONED_THROUGHPUT_EXCEEDED: &str = "ProvisionedThroughputExceeded";
}

/// What one send of the commit came to.
enum Sent {
    /// Applied.
    Applied,
    /// No answer, or an answer that does not say: the same request must go again.
    Unknown,
    /// Refused as a whole, with a reason per item.
    Cancelled(Vec<CancellationReason>),
}

/// What the commit does after a cancellation that ended no commit.
enum Next {
    /// Send again with rows numbered above what was observed.
    Renumber,
    /// Send again after a pause: a concurrent transaction or throttling got in the way.
    BackOff,
}

/// What one item's cancellation reason means for the commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// The item was not what cancelled the transaction.
    Fine,
    /// A claim's condition failed: the message was applied before.
    ClaimTaken,
    /// A key item's condition failed: another host committed a higher sequence.
    KeyAhead,
    /// A row's condition failed: its sequence is taken.
    RowTaken,
    /// A concurrent transaction or throttling.
    Conflict,
    /// Anything else: the handler's own condition, a validation error.
    Refused,
}

impl Verdict {
    fn of(role: &Role, reason: &CancellationReason) -> Self {
        use reason_code::*;
        match (role, reason.code().unwrap_or(NONE)) {
            (_, NONE) => Self::Fine,
            (Role::Claim(_), CONDITIONAL_CHECK_FAILED) => Self::ClaimTaken,
            (Role::Key { .. }, CONDITIONAL_CHECK_FAILED) => Self::KeyAhead,
            (Role::Row { .. }, CONDITIONAL_CHECK_FAILED) => Self::RowTaken,
            (_, TRANSACTION_CONFLICT | THROTTLING_ERROR | PROVISIONED_THROUGHPUT_EXCEEDED) => {
                Self::Conflict
            }
            _ => Self::Refused,
        }
    }
}

/// What an item of the transaction is, to read DynamoDB's reasons.
#[derive(Clone, Debug)]
enum Role {
    Handler(usize),
    Claim(usize),
    Row { key: String },
    Key { key: String },
}

impl Role {
    fn describe(&self, transaction: &DynamoTransaction) -> String {
        match self {
            Self::Handler(index) => {
                let write = &transaction.writes[*index];
                let (kind, table) = if let Some(put) = write.put() {
                    ("Put", put.table_name())
                } else if let Some(update) = write.update() {
                    ("Update", update.table_name())
                } else if let Some(delete) = write.delete() {
                    ("Delete", delete.table_name())
                } else if let Some(check) = write.condition_check() {
                    ("ConditionCheck", check.table_name())
                } else {
                    ("write", "?")
                };
                format!("handler write #{index} ({kind} on {table})")
            }
            Self::Claim(index) => {
                let (consumer, id) = &transaction.claims[*index];
                format!("inbox claim of message {id} by {consumer:?}")
            }
            Self::Row { key } => format!("outbox row of key {key:?}"),
            Self::Key { key } => format!("outbox key item of {key:?}"),
        }
    }
}

/// The items of one send, with what each is.
struct Plan {
    items: Vec<TransactWriteItem>,
    roles: Vec<Role>,
}

/// FNV-1a: a hash that is the same in every process, so every host puts a key in one shard.
pub(crate) fn shard_of(key: &str, shards: u16) -> i64 {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    i64::from((hash % u64::from(shards.max(1))) as u16)
}

impl DynamoBackend {
    /// The items `transaction` commits as, its rows numbered by `sequence`.
    fn plan(
        &self,
        transaction: &DynamoTransaction,
        now: DateTime<Utc>,
        mut sequence: impl FnMut() -> i64,
    ) -> Result<Plan> {
        let outbox = self.tables.outbox();
        let mut items = Vec::new();
        let mut roles = Vec::new();
        for (index, write) in transaction.writes.iter().enumerate() {
            items.push(write.clone());
            roles.push(Role::Handler(index));
        }
        for (index, (consumer, id)) in transaction.claims.iter().enumerate() {
            let mut claim = inbox_key(consumer, id);
            claim.insert(attr::CLAIMED.to_owned(), micros(now));
            if let Some(retention) = self.inbox_retention {
                claim.insert(attr::EXPIRES.to_owned(), expiry(now + retention));
            }
            let put = Put::builder()
                .table_name(self.tables.inbox())
                .set_item(Some(claim))
                .condition_expression("attribute_not_exists(#id)")
                .expression_attribute_names("#id", attr::ID)
                .build()
                .map_err(request_build)?;
            items.push(TransactWriteItem::builder().put(put).build());
            roles.push(Role::Claim(index));
        }
        // Per key: the first and last sequence of this commit, in staging order.
        let mut keys: Vec<(&str, i64, i64)> = Vec::new();
        for envelope in &transaction.staged {
            let sequence = sequence();
            match keys.iter_mut().find(|(key, ..)| *key == envelope.key) {
                Some((_, _, last)) => *last = sequence,
                None => keys.push((&envelope.key, sequence, sequence)),
            }
            let put = Put::builder()
                .table_name(outbox)
                .set_item(Some(item::row(envelope, sequence, now)?))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", attr::PK)
                .build()
                .map_err(request_build)?;
            items.push(TransactWriteItem::builder().put(put).build());
            roles.push(Role::Row {
                key: envelope.key.clone(),
            });
        }
        for (key, first, last) in keys {
            // Marks the key active (in the `active` index) and refuses a sequence that is not
            // above the key's last one.
            let update = Update::builder()
                .table_name(outbox)
                .set_key(Some(outbox_key(key, 0)))
                .update_expression(
                    "SET #last = :last, #shard = :shard, #since = if_not_exists(#since, :first) \
                     REMOVE #expires",
                )
                .condition_expression("attribute_not_exists(#last) OR #last < :first")
                .expression_attribute_names("#last", attr::LAST)
                .expression_attribute_names("#shard", attr::SHARD)
                .expression_attribute_names("#since", attr::SINCE)
                .expression_attribute_names("#expires", attr::EXPIRES)
                .expression_attribute_values(":last", n(last))
                .expression_attribute_values(":first", n(first))
                .expression_attribute_values(":shard", n(shard_of(key, self.shards)))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()
                .map_err(request_build)?;
            items.push(TransactWriteItem::builder().update(update).build());
            roles.push(Role::Key {
                key: key.to_owned(),
            });
        }
        Ok(Plan { items, roles })
    }

    /// Commits `transaction` (see the module notes).
    pub(crate) async fn commit_transaction(
        &self,
        mut transaction: DynamoTransaction,
    ) -> Result<()> {
        if transaction.writes.is_empty()
            && transaction.claims.is_empty()
            && transaction.staged.is_empty()
        {
            return Ok(());
        }
        let mut plan: Option<Plan> = None;
        let mut backoff = Duration::from_millis(10);
        let mut last_reasons = Vec::new();
        for _ in 0..MAX_COMMIT_ATTEMPTS {
            let current = match plan.take() {
                Some(plan) => plan,
                None => {
                    let fresh =
                        self.plan(&transaction, self.sequencer.now(), || self.sequencer.next())?;
                    check(&transaction, &fresh)?;
                    fresh
                }
            };
            let reasons = match self.send(&transaction, &current).await? {
                Sent::Applied => return Ok(()),
                Sent::Unknown => {
                    // It may have been applied: send the very same request with the same
                    // token, which DynamoDB applies at most once.
                    plan = Some(current);
                    tokio::time::sleep(jitter(backoff)).await;
                    backoff *= 2;
                    continue;
                }
                Sent::Cancelled(reasons) => reasons,
            };
            last_reasons.clear();
            match self
                .resolve(&transaction, &current, &reasons, &mut last_reasons)
                .await?
            {
                Next::Renumber => {}
                Next::BackOff => {
                    self.refuse_if_claimed(&transaction).await?;
                    tokio::time::sleep(jitter(backoff)).await;
                    backoff *= 2;
                }
            }
            // Nothing was applied, and the next send differs: it needs a token of its own.
            transaction.token = uuid::Uuid::new_v4().to_string();
        }
        Err(Error::unavailable(DynamoError::Cancelled {
            reasons: last_reasons,
        }))
    }

    /// Sends `plan` once with the transaction's token.
    async fn send(&self, transaction: &DynamoTransaction, plan: &Plan) -> Result<Sent> {
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(plan.items.clone()))
            .client_request_token(&transaction.token)
            .send()
            .await;
        let error = match sent {
            Ok(_) => return Ok(Sent::Applied),
            Err(error) => error,
        };
        if outcome_unknown(&error) {
            tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&error),
                "commit outcome unknown; sending it again with the same token");
            return Ok(Sent::Unknown);
        }
        match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                Ok(Sent::Cancelled(cancelled.cancellation_reasons().to_vec()))
            }
            _ => Err(classify("TransactWriteItems", error)),
        }
    }

    /// Reads the reasons of a cancelled send item by item (see the module notes): what to do
    /// next, or the error that ends the commit. `named` gets every reason, for that error.
    async fn resolve(
        &self,
        transaction: &DynamoTransaction,
        plan: &Plan,
        reasons: &[CancellationReason],
        named: &mut Vec<CancelledItem>,
    ) -> Result<Next> {
        let (mut renumber, mut back_off, mut refused) = (false, false, Vec::new());
        for (index, reason) in reasons.iter().enumerate() {
            let role = plan
                .roles
                .get(index)
                .cloned()
                .unwrap_or(Role::Handler(index));
            let verdict = Verdict::of(&role, reason);
            if verdict == Verdict::Fine {
                continue;
            }
            let item = CancelledItem {
                index,
                item: role.describe(transaction),
                code: reason.code().unwrap_or(reason_code::NONE).to_owned(),
                message: reason.message().map(str::to_owned),
            };
            named.push(item.clone());
            match (verdict, &role) {
                (Verdict::ClaimTaken, Role::Claim(claim)) => {
                    let (consumer, id) = transaction.claims[*claim].clone();
                    return Err(Error::AlreadyApplied { consumer, id });
                }
                (Verdict::KeyAhead, Role::Key { key }) => {
                    self.observe_last(key, reason).await?;
                    renumber = true;
                }
                (Verdict::RowTaken, _) => renumber = true,
                (Verdict::Conflict, _) => back_off = true,
                _ => refused.push(item),
            }
        }
        if !refused.is_empty() {
            return Err(Error::backend(DynamoError::Cancelled { reasons: refused }));
        }
        match (back_off, renumber) {
            (true, _) => Ok(Next::BackOff),
            (false, true) => Ok(Next::Renumber),
            (false, false) => Err(Error::backend(DynamoError::Cancelled {
                reasons: named.clone(),
            })),
        }
    }

    /// Notes the key's last sequence, from the refused item or read from the table, so that
    /// the next numbering is above it.
    async fn observe_last(&self, key: &str, reason: &CancellationReason) -> Result<()> {
        let last = match reason.item().and_then(|item| number(item, attr::LAST)) {
            Some(last) => Some(last),
            None => self.last_sequence(key).await?,
        };
        if let Some(last) = last {
            self.sequencer.observe(last);
        }
        Ok(())
    }

    /// A concurrent delivery of the same message may have committed meanwhile: then this one
    /// is a duplicate.
    async fn refuse_if_claimed(&self, transaction: &DynamoTransaction) -> Result<()> {
        for (consumer, id) in &transaction.claims {
            if self.is_claimed(consumer, id).await? {
                return Err(Error::AlreadyApplied {
                    consumer: consumer.clone(),
                    id: id.clone(),
                });
            }
        }
        Ok(())
    }

    /// The key's last committed sequence, read with strong consistency (`None`: no commit has
    /// staged a row of the key, or its key item expired).
    pub(crate) async fn last_sequence(&self, key: &str) -> Result<Option<i64>> {
        let found = self
            .client
            .get_item()
            .table_name(self.tables.outbox())
            .set_key(Some(outbox_key(key, 0)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(found.item().and_then(|item| number(item, attr::LAST)))
    }

    /// Whether `consumer` has a committed claim of `id`.
    pub(crate) async fn is_claimed(
        &self,
        consumer: &str,
        id: &tidings_core::MessageId,
    ) -> Result<bool> {
        let found = self
            .client
            .get_item()
            .table_name(self.tables.inbox())
            .set_key(Some(inbox_key(consumer, id)))
            .consistent_read(true)
            .projection_expression("#c")
            .expression_attribute_names("#c", attr::CONSUMER)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(found.item().is_some())
    }
}

/// DynamoDB's limits on one transaction: 100 items, 4 MB, 400 KB per item.
/// The item count is also checked as writes, events and claims are added; the sizes only
/// here, on the items about to be sent.
fn check(transaction: &DynamoTransaction, plan: &Plan) -> Result<()> {
    transaction.check_item_count()?;
    let mut total = 0;
    let mut rows = 0;
    for (write, role) in plan.items.iter().zip(&plan.roles) {
        let bytes = write_size(write);
        if bytes > MAX_ITEM_BYTES {
            let what = match role {
                Role::Row { .. } => {
                    format!("the outbox row of event {}", transaction.staged[rows].id)
                }
                other => other.describe(transaction),
            };
            return Err(Error::backend(DynamoError::ItemTooLarge { what, bytes }));
        }
        if matches!(role, Role::Row { .. }) {
            rows += 1;
        }
        total += bytes;
    }
    if total > MAX_TRANSACTION_BYTES {
        return Err(Error::backend(DynamoError::TransactionTooLarge {
            bytes: total,
        }));
    }
    Ok(())
}

fn jitter(delay: Duration) -> Duration {
    delay.mul_f64(0.5 + fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_lands_in_the_same_shard_everywhere() {
        assert_eq!(shard_of("order-1", 8), shard_of("order-1", 8));
        assert!((0..8).contains(&shard_of("order-1", 8)));
        let spread: std::collections::HashSet<i64> =
            (0..100).map(|i| shard_of(&format!("k{i}"), 8)).collect();
        assert_eq!(
            spread.len(),
            8,
            "100 keys should reach every one of 8 shards"
        );
    }
}
