//! Claiming without row locks. MongoDB has no `SKIP LOCKED`, so a claim plans on a snapshot
//! and then wins keys by compare-and-set:
//!
//! 1. Plan: read unfinished rows in sequence order from the start. The first row of a key met
//!    this way is its head (every earlier unfinished row was read before it), so the same
//!    admission rule as elsewhere ([`claim_policy::take_runs`]) picks runs. When a page yields
//!    too little (its keys held by other relays, or waiting for a retry), the next page skips
//!    every key already seen, so a blocked key's backlog is passed over, not read again.
//! 2. Win heads: one conditional update leases the planned heads that are still claimable,
//!    tagging them with this claim's token. Each document update is atomic, so a head goes to
//!    one relay only; a key whose head was won by someone else is dropped.
//! 3. Lease the rest of the won keys' runs. Nobody else can take them: their head is leased.
//!    A run is only ever handed out up to its first row this claim did not get.

use std::collections::{HashMap, HashSet};

use mongodb::bson::{Bson, Document, doc};
use tidings_core::{ClaimRequest, OutboxRecord, Result, claim_policy};

use crate::{
    MongoBackend,
    document::{LEASED, PENDING, date, to_claim_view, to_record},
    error::classify,
    query::all,
};

/// Pages one claim reads at most before settling for what it has.
const MAX_PAGES: usize = 8;

/// Rows per page: enough to fill a batch in one page when keys are free.
fn page_size(request: &ClaimRequest) -> i64 {
    i64::try_from(request.limit.max(100)).unwrap_or(i64::MAX)
}

fn claimable(request: &ClaimRequest) -> Document {
    let now = date(request.now);
    doc! { "$or": [
        { "status": PENDING, "next_attempt_at": { "$lte": now } },
        { "status": LEASED, "lease_until": { "$lte": now } },
    ] }
}

pub(crate) async fn claim(
    backend: &MongoBackend,
    request: &ClaimRequest,
) -> Result<Vec<OutboxRecord>> {
    let plan = plan(backend, request).await?;
    if plan.is_empty() {
        return Ok(Vec::new());
    }
    let token = uuid::Uuid::now_v7().to_string();
    let lease = doc! { "$set": {
        "status": LEASED,
        "lease_owner": &request.owner,
        "lease_until": date(request.lease_until()),
        "claim": &token,
    } };
    let mut heads: Vec<&str> = Vec::new();
    let mut first_of_key: HashSet<&str> = HashSet::new();
    for record in &plan {
        if first_of_key.insert(record.envelope.key.as_str()) {
            heads.push(record.envelope.id.as_str());
        }
    }
    let leased = |ids: Vec<&str>| {
        let mut filter = claimable(request);
        filter.insert("_id", doc! { "$in": ids });
        backend.outbox.update_many(filter, lease.clone())
    };
    leased(heads.clone()).await.map_err(classify)?;
    let won: HashSet<String> = find_claimed(backend, &heads, &token)
        .await?
        .into_iter()
        .map(|record| record.envelope.key)
        .collect();
    if won.is_empty() {
        return Ok(Vec::new());
    }
    let heads: HashSet<&str> = heads.into_iter().collect();
    let rest: Vec<&str> = plan
        .iter()
        .filter(|r| won.contains(&r.envelope.key) && !heads.contains(r.envelope.id.as_str()))
        .map(|r| r.envelope.id.as_str())
        .collect();
    if !rest.is_empty() {
        leased(rest).await.map_err(classify)?;
    }
    let planned: Vec<&str> = plan
        .iter()
        .filter(|r| won.contains(&r.envelope.key))
        .map(|r| r.envelope.id.as_str())
        .collect();
    let got = find_claimed(backend, &planned, &token).await?;
    keep_prefixes(backend, &plan, got, &token).await
}

/// The planned rows, in sequence order.
async fn plan(backend: &MongoBackend, request: &ClaimRequest) -> Result<Vec<OutboxRecord>> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut planned: Vec<OutboxRecord> = Vec::new();
    let mut keys_planned = 0;
    let mut after = i64::MIN;
    for _ in 0..MAX_PAGES {
        let excluded: Vec<&str> = seen.iter().map(String::as_str).collect();
        let page = all(backend
            .outbox
            .find(doc! {
                "status": { "$in": [PENDING, LEASED] },
                "sequence": { "$gt": after },
                "partition_key": { "$nin": excluded },
            })
            .sort(doc! { "sequence": 1 })
            .limit(page_size(request)))
        .await?;
        let exhausted = i64::try_from(page.len()).unwrap_or(i64::MAX) < page_size(request);
        let Some(last) = page.last() else { break };
        after = last.get_i64("sequence").unwrap_or(i64::MAX);
        let views = page.iter().map(to_claim_view).collect::<Result<Vec<_>>>()?;
        seen.extend(views.iter().map(|v| v.record.envelope.key.clone()));
        let share = ClaimRequest::new(
            request.owner.clone(),
            request.limit - planned.len(),
            request.lease,
        )
        .at(request.now)
        .with_max_keys(request.key_limit() - keys_planned);
        let taken: Vec<OutboxRecord> = claim_policy::take_runs(&share, views)
            .into_iter()
            .map(|view| view.record)
            .collect();
        keys_planned += taken
            .iter()
            .map(|r| r.envelope.key.as_str())
            .collect::<HashSet<_>>()
            .len();
        planned.extend(taken);
        if exhausted || planned.len() >= request.limit || keys_planned >= request.key_limit() {
            break;
        }
    }
    Ok(planned)
}

async fn find_claimed(
    backend: &MongoBackend,
    ids: &[&str],
    token: &str,
) -> Result<Vec<OutboxRecord>> {
    let documents = all(backend
        .outbox
        .find(doc! { "_id": { "$in": ids }, "claim": token })
        .sort(doc! { "sequence": 1 }))
    .await?;
    documents.iter().map(to_record).collect()
}

/// Keeps, per key, the claimed rows up to the first planned row this claim did not get, and
/// gives back the rows after such a gap: sending them would overtake the missing row.
async fn keep_prefixes(
    backend: &MongoBackend,
    plan: &[OutboxRecord],
    got: Vec<OutboxRecord>,
    token: &str,
) -> Result<Vec<OutboxRecord>> {
    let got_ids: HashSet<&str> = got.iter().map(|r| r.envelope.id.as_str()).collect();
    let mut gap: HashMap<&str, bool> = HashMap::new();
    let mut beyond_gap: HashSet<String> = HashSet::new();
    for record in plan {
        let key = record.envelope.key.as_str();
        let broken = gap.entry(key).or_insert(false);
        if *broken {
            beyond_gap.insert(record.envelope.id.to_string());
        } else if !got_ids.contains(record.envelope.id.as_str()) {
            *broken = true;
        }
    }
    let (mut kept, given_back): (Vec<_>, Vec<_>) = got
        .into_iter()
        .partition(|r| !beyond_gap.contains(r.envelope.id.as_str()));
    if !given_back.is_empty() {
        let ids: Vec<Bson> = given_back
            .iter()
            .map(|r| Bson::String(r.envelope.id.to_string()))
            .collect();
        backend
            .outbox
            .update_many(
                doc! { "_id": { "$in": ids }, "claim": token },
                doc! {
                    "$set": { "status": PENDING },
                    "$unset": { "lease_owner": "", "lease_until": "", "claim": "" },
                },
            )
            .await
            .map_err(classify)?;
    }
    kept.sort_by_key(|r| r.sequence);
    Ok(kept)
}
