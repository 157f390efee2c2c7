//! Settling leased rows, purging, counting. Each settlement is a conditional update of its row
//! (found by key and sequence, checked by event id); they are sent side by side.

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};
use tidings_core::{OutboxStats, Outcome, Result, Settlement};

use crate::{
    DynamoBackend,
    change::Change,
    error::classify,
    item::{DEAD, Item, LEASED, PENDING, PUBLISHED, attr, expiry, micros, n, outbox_key, s},
};

/// Writes in flight at once when settling or purging.
const PARALLEL_WRITES: usize = 32;

/// Runs conditional writes side by side, a few at a time; returns how many were applied.
pub(crate) async fn count_applied(
    writes: Vec<impl Future<Output = Result<bool>> + Send>,
) -> Result<u64> {
    stream::iter(writes)
        .buffer_unordered(PARALLEL_WRITES)
        .try_fold(
            0,
            |applied, done| async move { Ok(applied + u64::from(done)) },
        )
        .await
}

/// Publishing needs no lease (the event was sent, whoever holds the row now); giving a row
/// back, retrying or dead-lettering it needs the caller's own lease.
const OWN_LEASE: &str = "#id = :id AND #status = :leased AND #owner = :owner";

impl DynamoBackend {
    fn settlement_change(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        settlement: &Settlement,
    ) -> Change {
        let change = match &settlement.outcome {
            Outcome::Published => {
                let change = match self.published_retention {
                    Some(retention) => Change::new(
                        "SET #status = :published, #published = :now, #expires = :expires \
                         REMOVE #owner, #lease, #open",
                    )
                    .name("#expires", attr::EXPIRES)
                    .value(":expires", expiry(now + retention)),
                    None => Change::new(
                        "SET #status = :published, #published = :now REMOVE #owner, #lease, #open",
                    ),
                };
                return change
                    .when("#id = :id AND #status IN (:pending, :leased)")
                    .name("#id", attr::ID)
                    .name("#status", attr::STATUS)
                    .name("#published", attr::PUBLISHED)
                    .name("#owner", attr::OWNER)
                    .name("#lease", attr::LEASE)
                    .name("#open", attr::OPEN)
                    .value(":id", s(settlement.id.as_str()))
                    .value(":published", s(PUBLISHED))
                    .value(":pending", s(PENDING))
                    .value(":leased", s(LEASED))
                    .value(":now", micros(now));
            }
            Outcome::Release => Change::new("SET #status = :pending REMOVE #owner, #lease")
                .value(":pending", s(PENDING)),
            Outcome::Retry { error, at } => Change::new(
                "SET #status = :pending, #attempts = #attempts + :one, #error = :error, \
                 #due = :at REMOVE #owner, #lease",
            )
            .name("#attempts", attr::ATTEMPTS)
            .name("#error", attr::LAST_ERROR)
            .name("#due", attr::DUE)
            .value(":pending", s(PENDING))
            .value(":one", n(1))
            .value(":error", s(error))
            .value(":at", micros(*at)),
            Outcome::DeadLetter { error } => Change::new(
                "SET #status = :dead, #attempts = #attempts + :one, #error = :error, \
                 #dead = :one REMOVE #owner, #lease, #open",
            )
            .name("#attempts", attr::ATTEMPTS)
            .name("#error", attr::LAST_ERROR)
            .name("#dead", attr::DEAD)
            .name("#open", attr::OPEN)
            .value(":dead", s(DEAD))
            .value(":one", n(1))
            .value(":error", s(error)),
        };
        change
            .when(OWN_LEASE)
            .name("#id", attr::ID)
            .name("#status", attr::STATUS)
            .name("#owner", attr::OWNER)
            .name("#lease", attr::LEASE)
            .value(":id", s(settlement.id.as_str()))
            .value(":leased", s(LEASED))
            .value(":owner", s(owner))
    }

    pub(crate) async fn settle_rows(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        settlements: &[Settlement],
    ) -> Result<u64> {
        let table = self.tables.outbox();
        let writes: Vec<_> = settlements
            .iter()
            .map(|settlement| {
                let change = self.settlement_change(owner, now, settlement);
                let key = outbox_key(&settlement.key, settlement.sequence);
                async move { change.apply(&self.client, table, key).await }
            })
            .collect();
        count_applied(writes).await
    }

    /// Deletes, one conditional delete each, up to `limit` items of `table` that `filter`
    /// selects; returns how many went. A scan: DynamoDB has no cheaper way to find items by a
    /// non-key attribute, which is why the TTL attribute does the routine work.
    pub(crate) async fn purge_where(
        &self,
        table: &str,
        key_names: [&str; 2],
        filter: &Change,
        limit: u32,
    ) -> Result<u64> {
        let mut keys: Vec<Item> = Vec::new();
        let mut cursor: Option<Item> = None;
        let limit = limit as usize;
        while keys.len() < limit {
            let page = filter
                .scan(&self.client, table, key_names)
                .set_exclusive_start_key(cursor.take())
                .send()
                .await
                .map_err(|e| classify("Scan", e))?;
            keys.extend(page.items().iter().take(limit - keys.len()).cloned());
            match page.last_evaluated_key() {
                Some(key) => cursor = Some(key.clone()),
                None => break,
            }
        }
        count_applied(
            keys.into_iter()
                .map(|key| filter.delete(&self.client, table, key))
                .collect(),
        )
        .await
    }

    pub(crate) async fn purge_published_rows(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64> {
        let filter = Change::filter("#status = :published AND #published < :before")
            .name("#status", attr::STATUS)
            .name("#published", attr::PUBLISHED)
            .value(":published", s(PUBLISHED))
            .value(":before", micros(before));
        self.purge_where(self.tables.outbox(), [attr::PK, attr::SK], &filter, limit)
            .await
    }

    /// Counts by status: a scan of the outbox that reads only the status.
    pub(crate) async fn count_rows(&self) -> Result<OutboxStats> {
        let mut counts: Vec<(String, i64)> = Vec::new();
        let mut cursor: Option<Item> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(self.tables.outbox())
                .projection_expression("#status")
                .expression_attribute_names("#status", attr::STATUS)
                .set_exclusive_start_key(cursor.take())
                .send()
                .await
                .map_err(|e| classify("Scan", e))?;
            for status in page
                .items()
                .iter()
                .filter_map(|item| item.get(attr::STATUS).and_then(|v| v.as_s().ok()))
            {
                match counts.iter_mut().find(|(known, _)| known == status) {
                    Some((_, count)) => *count += 1,
                    None => counts.push((status.clone(), 1)),
                }
            }
            match page.last_evaluated_key() {
                Some(key) => cursor = Some(key.clone()),
                None => break,
            }
        }
        Ok(OutboxStats::from_counts(
            counts
                .iter()
                .map(|(status, count)| (status.as_str(), *count)),
        ))
    }
}
