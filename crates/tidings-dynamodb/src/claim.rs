//! Claims. The outbox table keeps, besides the rows, one item per partition key (sort key 0):
//! while the key may have unfinished rows it sits in the sparse `active` index, spread over
//! shards so that no index partition runs hot. A claim
//! 1. reads a page of the `active` index from every shard at once and takes the keys in the
//!    order they became active, so the work that has waited longest goes first;
//! 2. per candidate key, reads its unfinished rows from the `open` local index with a strongly
//!    consistent query — a key's rows are never judged on a stale index;
//! 3. keeps the run of rows up to the first one it may not take (a live lease, a retry not yet
//!    due), and leases the run in one conditional write (a transaction when the run has more
//!    than one row): each row must still be unfinished and claimable, so of two relays racing
//!    for a key one gets the whole run and the other nothing;
//! 4. marks a key with no unfinished rows inactive, on condition that no commit has raised
//!    its last sequence since it was read.
//!
//! Keys are claimed in rounds of a few, their reads and leases side by side; a key's backlog
//! is read one page at a time and never scanned, so a held key with a long backlog costs one
//! query per claim.

use futures_util::future::join_all;
use tidings_core::{ClaimRequest, OutboxRecord, RecordStatus, Result, claim_policy};

use crate::{
    DynamoBackend,
    change::{Change, transact},
    error::classify,
    item::{self, Item, LEASED, PENDING, attr, expiry, index, micros, n, number, outbox_key, s},
};

/// Key items read per page of the `active` index.
const KEY_PAGE: i32 = 100;

/// Keys claimed side by side.
const PARALLEL_KEYS: usize = 16;

/// Most rows of one key leased by one claim: one transaction's worth.
const MAX_RUN: usize = 100;

const LEASE_CONDITION: &str = "attribute_exists(#open) AND ((#status = :pending AND #due <= :now) \
     OR (#status = :leased AND #lease <= :now))";

impl DynamoBackend {
    pub(crate) async fn claim(&self, request: &ClaimRequest) -> Result<Vec<OutboxRecord>> {
        let mut taken: Vec<OutboxRecord> = Vec::new();
        let mut keys = 0;
        // Every shard's next page start; a shard is dropped once read to its end.
        let mut cursors: Vec<(i64, Option<Item>)> = (0..i64::from(self.shards.max(1)))
            .map(|shard| (shard, None))
            .collect();
        'pages: while !cursors.is_empty() {
            let pages = join_all(
                cursors
                    .iter()
                    .map(|(shard, start)| self.active_keys(*shard, start.clone())),
            )
            .await;
            let mut candidates: Vec<(i64, String)> = Vec::new();
            let mut next = Vec::new();
            for ((shard, _), page) in cursors.iter().zip(pages) {
                let (found, last) = page?;
                candidates.extend(found);
                if last.is_some() {
                    next.push((*shard, last));
                }
            }
            cursors = next;
            // Keys whose work has waited longest first.
            candidates.sort();
            let mut rest = &candidates[..];
            while !rest.is_empty() {
                let rows_left = request.limit.saturating_sub(taken.len());
                let keys_left = request.key_limit().saturating_sub(keys);
                if rows_left == 0 || keys_left == 0 {
                    break 'pages;
                }
                let (round, later) = rest.split_at(PARALLEL_KEYS.min(keys_left).min(rest.len()));
                rest = later;
                for run in self
                    .claim_round(round, rows_left, keys_left, request)
                    .await?
                {
                    keys += 1;
                    taken.extend(run);
                }
            }
        }
        taken.sort_by_key(|record| record.sequence);
        Ok(taken)
    }

    /// A page of the keys active in `shard`, each with the sequence it became active at,
    /// and where the next page starts.
    async fn active_keys(
        &self,
        shard: i64,
        start: Option<Item>,
    ) -> Result<(Vec<(i64, String)>, Option<Item>)> {
        let page = self
            .client
            .query()
            .table_name(self.tables.outbox())
            .index_name(index::ACTIVE)
            .key_condition_expression("#shard = :shard")
            .expression_attribute_names("#shard", attr::SHARD)
            .expression_attribute_values(":shard", n(shard))
            .set_exclusive_start_key(start)
            .limit(KEY_PAGE)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        let found = page
            .items()
            .iter()
            .filter_map(|item| {
                let key = item.get(attr::PK)?.as_s().ok()?.clone();
                Some((number(item, attr::SINCE)?, key))
            })
            .collect();
        Ok((found, page.last_evaluated_key().cloned()))
    }

    /// Claims runs of the keys of `round`, taking at most `rows_left` rows of at most
    /// `keys_left` keys. The keys' rows are read side by side; runs are then handed out in the
    /// keys' order (so a held key costs the others nothing), and leased side by side.
    async fn claim_round(
        &self,
        round: &[(i64, String)],
        rows_left: usize,
        keys_left: usize,
        request: &ClaimRequest,
    ) -> Result<Vec<Vec<OutboxRecord>>> {
        let page = rows_left.min(MAX_RUN);
        let reads = join_all(round.iter().map(|(_, key)| self.open_rows(key, page))).await;
        let mut drained = Vec::new();
        let mut runs = Vec::new();
        let mut rows = 0;
        for ((_, key), read) in round.iter().zip(reads) {
            let open = read?;
            if open.is_empty() {
                drained.push(key.as_str());
                continue;
            }
            if rows >= rows_left || runs.len() >= keys_left {
                continue;
            }
            let mut narrowed = request.clone();
            narrowed.limit = (rows_left - rows).min(MAX_RUN);
            let views = open
                .iter()
                .map(item::row_view)
                .collect::<Result<Vec<_>>>()?;
            let run: Vec<OutboxRecord> = claim_policy::take_runs(&narrowed, views)
                .into_iter()
                .map(|view| view.record)
                .collect();
            if !run.is_empty() {
                rows += run.len();
                runs.push(run);
            }
        }
        let leases = join_all(runs.into_iter().map(|mut run| async move {
            if !self.lease(&run, request).await? {
                return Ok(Vec::new());
            }
            for record in &mut run {
                record.status = RecordStatus::Leased;
            }
            Ok(run)
        }));
        let deactivations = join_all(drained.into_iter().map(|key| self.deactivate(key)));
        let (leases, deactivations) = tokio::join!(leases, deactivations);
        deactivations.into_iter().collect::<Result<()>>()?;
        let leased = leases.into_iter().collect::<Result<Vec<_>>>()?;
        Ok(leased.into_iter().filter(|run| !run.is_empty()).collect())
    }

    /// Up to `limit` unfinished rows of `key` in sequence order, read with strong consistency.
    async fn open_rows(&self, key: &str, limit: usize) -> Result<Vec<Item>> {
        let found = self
            .client
            .query()
            .table_name(self.tables.outbox())
            .index_name(index::OPEN)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_values(":pk", s(key))
            .consistent_read(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        Ok(found.items.unwrap_or_default())
    }

    /// Leases `run` (rows of one key) as a whole; `false` when another relay was first.
    async fn lease(&self, run: &[OutboxRecord], request: &ClaimRequest) -> Result<bool> {
        let lease = Change::new("SET #status = :leased, #owner = :owner, #lease = :until")
            .when(LEASE_CONDITION)
            .name("#status", attr::STATUS)
            .name("#owner", attr::OWNER)
            .name("#lease", attr::LEASE)
            .name("#open", attr::OPEN)
            .name("#due", attr::DUE)
            .value(":leased", s(LEASED))
            .value(":pending", s(PENDING))
            .value(":owner", s(&request.owner))
            .value(":until", micros(request.lease_until()))
            .value(":now", micros(request.now));
        let table = self.tables.outbox();
        let key_of = |record: &OutboxRecord| outbox_key(&record.envelope.key, record.sequence);
        if let [record] = run {
            // One row: a conditional update costs half a transaction.
            return lease.apply(&self.client, table, key_of(record)).await;
        }
        let items = run
            .iter()
            .map(|record| lease.transact_item(table, key_of(record)))
            .collect::<Result<Vec<_>>>()?;
        transact(&self.client, items).await
    }

    /// Takes `key` out of the `active` index when it has no unfinished rows, unless a commit
    /// raised its last sequence after the key item was read.
    async fn deactivate(&self, key: &str) -> Result<()> {
        let Some(last) = self.last_sequence(key).await? else {
            return Ok(());
        };
        // Read after the key item: a row committed before that read is seen here.
        if !self.open_rows(key, 1).await?.is_empty() {
            return Ok(());
        }
        let change = match self.published_retention {
            Some(retention) => Change::new("REMOVE #shard, #since SET #expires = :expires")
                .name("#expires", attr::EXPIRES)
                .value(":expires", expiry(chrono::Utc::now() + retention)),
            None => Change::new("REMOVE #shard, #since"),
        };
        change
            .when("#last = :last")
            .name("#last", attr::LAST)
            .name("#shard", attr::SHARD)
            .name("#since", attr::SINCE)
            .value(":last", n(last))
            .apply(&self.client, self.tables.outbox(), outbox_key(key, 0))
            .await
            .map(drop)
    }
}
