//! Sequences that follow commit order per key, whatever the writers' clocks say.
//!
//! A row's sequence comes from the staging host's clock ([`ClockSequencer`](tidings_core::sequence::ClockSequencer)), but never at or
//! below the last sequence committed for its key, which `{outbox}_keys` keeps as
//! `{_id: key, last: sequence}` and the staging transaction updates. Two transactions writing
//! one key's document meet a write conflict (MongoDB's snapshot isolation lets only the first
//! writer commit), so the second one starts again after the first has committed and numbers
//! its rows above the first's. Without this, a host whose clock runs behind would number a
//! later commit below an earlier one and the relay would send it first.

use std::collections::HashMap;

use futures_util::TryStreamExt;
use mongodb::{
    ClientSession,
    bson::{Bson, Document, doc},
    options::ReturnDocument,
};
use tidings_core::{Envelope, Error, Result};

use crate::{MongoBackend, error::classify_sequence_write};

/// The field of a key document that holds its last sequence.
pub(crate) const LAST: &str = "last";

/// Sequences for `envelopes`, in order, recorded as their keys' last ones within `session`'s
/// transaction.
pub(crate) async fn number(
    backend: &MongoBackend,
    session: &mut ClientSession,
    envelopes: &[Envelope],
) -> Result<Vec<i64>> {
    let mut keys: Vec<&str> = Vec::new();
    for envelope in envelopes {
        if !keys.contains(&envelope.key.as_str()) {
            keys.push(&envelope.key);
        }
    }
    match keys.as_slice() {
        [key] => one_key(backend, session, key, envelopes.len()).await,
        _ => many_keys(backend, session, &keys, envelopes).await,
    }
}

/// One key: a single `findAndModify` raises its last sequence by `count` (or to the clock, if
/// that is higher) and returns it; the rows take the `count` sequences up to it.
async fn one_key(
    backend: &MongoBackend,
    session: &mut ClientSession,
    key: &str,
    count: usize,
) -> Result<Vec<i64>> {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    let sequencer = &backend.sequencer;
    let clock_first = sequencer.next();
    let clock_last = clock_first.saturating_add(count - 1);
    sequencer.observe(clock_last);
    let raised = doc! { "$max": [
        { "$add": [{ "$ifNull": [format!("${LAST}"), i64::MIN] }, count] },
        clock_last,
    ] };
    let updated = backend
        .keys
        .find_one_and_update(doc! { "_id": key }, vec![doc! { "$set": { LAST: raised } }])
        .upsert(true)
        .return_document(ReturnDocument::After)
        .session(&mut *session)
        .await
        .map_err(|error| classify_sequence_write(error, key))?;
    let last = updated
        .as_ref()
        .and_then(|document| document.get_i64(LAST).ok())
        .ok_or_else(|| Error::corrupt("keys document", format!("{key:?} has no sequence")))?;
    sequencer.observe(last);
    Ok((last - count + 1..=last).collect())
}

/// Several keys: their last sequences read in the transaction, the rows numbered above them,
/// and the new last sequences written with one `update` command. A key document that another
/// transaction changed since this one's snapshot makes the write conflict.
async fn many_keys(
    backend: &MongoBackend,
    session: &mut ClientSession,
    keys: &[&str],
    envelopes: &[Envelope],
) -> Result<Vec<i64>> {
    let found: Vec<Document> = backend
        .keys
        .find(doc! { "_id": { "$in": keys } })
        .session(&mut *session)
        .await
        .map_err(|error| classify_sequence_write(error, keys[0]))?
        .stream(&mut *session)
        .try_collect()
        .await
        .map_err(|error| classify_sequence_write(error, keys[0]))?;
    let mut last: HashMap<&str, i64> = found
        .iter()
        .filter_map(|d| Some((d.get_str("_id").ok()?, d.get_i64(LAST).ok()?)))
        .collect();
    let sequences = envelopes
        .iter()
        .map(|envelope| {
            let floor = last.get(envelope.key.as_str()).copied().unwrap_or(i64::MIN);
            let sequence = backend.sequencer.next_above(floor);
            last.insert(&envelope.key, sequence);
            sequence
        })
        .collect();
    let updates: Vec<Bson> = keys
        .iter()
        .map(|key| {
            Bson::Document(doc! {
                "q": { "_id": *key },
                "u": { "$set": { LAST: last[key] } },
                "upsert": true,
            })
        })
        .collect();
    let reply = backend
        .client()
        .database(backend.names().database())
        .run_command(doc! { "update": backend.keys.name(), "updates": updates, "ordered": true })
        .session(&mut *session)
        .await
        .map_err(|error| classify_sequence_write(error, keys[0]))?;
    refuse_write_errors(&reply, keys)?;
    Ok(sequences)
}

/// A reply of `ok: 1` can still carry write errors, one per refused statement.
fn refuse_write_errors(reply: &Document, keys: &[&str]) -> Result<()> {
    let Ok(errors) = reply.get_array("writeErrors") else {
        return Ok(());
    };
    let Some(Bson::Document(first)) = errors.first() else {
        return Ok(());
    };
    let index = first.get_i32("index").unwrap_or(0);
    let key = usize::try_from(index)
        .ok()
        .and_then(|i| keys.get(i))
        .copied()
        .unwrap_or_default();
    let code = first.get_i32("code").unwrap_or_default();
    let message = first.get_str("errmsg").unwrap_or("").to_owned();
    Err(crate::error::sequence_write_refused(code, key, message))
}
