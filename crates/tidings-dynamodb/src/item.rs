//! Outbox rows, key items and inbox claims as DynamoDB items, and item sizes as DynamoDB counts
//! them. Times the relay compares are numbers (microseconds since the epoch); the TTL attribute
//! is in seconds, as DynamoDB's TTL wants; the event's own time is RFC 3339 text, so the event
//! leaves exactly as it was staged.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, SecondsFormat, Utc};
use tidings_core::{
    Envelope, ExtensionValue, MessageId, OutboxRecord, RecordStatus, Result,
    claim_policy::ClaimView,
};

use crate::error::corrupt;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// Attribute names of the outbox table.
pub(crate) mod attr {
    /// Partition key: the event's partition key.
    pub(crate) const PK: &str = "pk";
    /// Sort key: the row's sequence; 0 for the key item.
    pub(crate) const SK: &str = "sk";
    pub(crate) const ID: &str = "id";
    pub(crate) const TOPIC: &str = "topic";
    pub(crate) const TYPE: &str = "type";
    pub(crate) const SOURCE: &str = "source";
    pub(crate) const TIME: &str = "time";
    pub(crate) const SUBJECT: &str = "subject";
    pub(crate) const SCHEMA: &str = "dataschema";
    pub(crate) const CONTENT_TYPE: &str = "content_type";
    pub(crate) const EXTENSIONS: &str = "extensions";
    pub(crate) const PAYLOAD: &str = "payload";
    pub(crate) const CORRELATION: &str = "correlation_id";
    pub(crate) const CAUSATION: &str = "causation_id";
    pub(crate) const TRACEPARENT: &str = "traceparent";
    pub(crate) const STATUS: &str = "status";
    pub(crate) const ATTEMPTS: &str = "attempts";
    pub(crate) const LAST_ERROR: &str = "last_error";
    pub(crate) const CREATED: &str = "created_at";
    pub(crate) const DUE: &str = "next_attempt_at";
    pub(crate) const OWNER: &str = "lease_owner";
    pub(crate) const LEASE: &str = "lease_until";
    pub(crate) const PUBLISHED: &str = "published_at";
    /// Present while the row is pending or leased: the sort key of the `open` local index.
    pub(crate) const OPEN: &str = "open_seq";
    /// Present (1) while the row is a dead letter: the partition key of the `dead` index.
    pub(crate) const DEAD: &str = "dead_letter";
    /// TTL attribute (seconds since the epoch).
    pub(crate) const EXPIRES: &str = "expires_at";
    /// Key item: highest sequence committed for the key.
    pub(crate) const LAST: &str = "last_seq";
    /// Key item: present while the key may have unfinished rows; partition key of `active`.
    pub(crate) const SHARD: &str = "shard";
    /// Key item: sort key of `active`, the sequence the key became active at.
    pub(crate) const SINCE: &str = "active_since";
    /// Inbox: partition key.
    pub(crate) const CONSUMER: &str = "consumer";
    /// Inbox: when the message was claimed.
    pub(crate) const CLAIMED: &str = "claimed_at";
}

/// Index names.
pub(crate) mod index {
    /// Local index of a key's unfinished rows in sequence order (read with strong consistency).
    pub(crate) const OPEN: &str = "open";
    /// Global index of keys with unfinished rows, sharded.
    pub(crate) const ACTIVE: &str = "active";
    /// Global index of dead letters in sequence order.
    pub(crate) const DEAD: &str = "dead";
}

pub(crate) const PENDING: &str = "pending";
pub(crate) const LEASED: &str = "leased";
pub(crate) const PUBLISHED: &str = "published";
pub(crate) const DEAD: &str = "dead";

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn micros(time: DateTime<Utc>) -> AttributeValue {
    n(time.timestamp_micros())
}

/// The TTL attribute's value: `time` in whole seconds.
pub(crate) fn expiry(time: DateTime<Utc>) -> AttributeValue {
    n(time.timestamp())
}

/// The primary key of the outbox item of `key` at `sequence` (0: the key item).
pub(crate) fn outbox_key(key: &str, sequence: i64) -> Item {
    HashMap::from([
        (attr::PK.to_owned(), s(key)),
        (attr::SK.to_owned(), n(sequence)),
    ])
}

/// The primary key of an inbox claim.
pub(crate) fn inbox_key(consumer: &str, id: &MessageId) -> Item {
    HashMap::from([
        (attr::CONSUMER.to_owned(), s(consumer)),
        (attr::ID.to_owned(), s(id.as_str())),
    ])
}

/// The item staged for `envelope` at `sequence`, pending and due at `now`.
pub(crate) fn row(envelope: &Envelope, sequence: i64, now: DateTime<Utc>) -> Result<Item> {
    let mut item = outbox_key(&envelope.key, sequence);
    put_envelope(
        &mut item,
        envelope,
        AttributeValue::B(envelope.payload.clone().into()),
    )?;
    let mut put = |name: &str, value: AttributeValue| {
        item.insert(name.to_owned(), value);
    };
    put(attr::STATUS, s(PENDING));
    put(attr::ATTEMPTS, n(0));
    put(attr::CREATED, micros(now));
    // Due at once (the Unix epoch) on any relay's clock: the committing host's may run ahead.
    put(attr::DUE, n(0));
    put(attr::OPEN, n(sequence));
    Ok(item)
}

/// Puts the event's own attributes (its key and payload aside: the caller names the key
/// attribute, and gives the payload as it keeps it) into `item`.
pub(crate) fn put_envelope(
    item: &mut Item,
    envelope: &Envelope,
    payload: AttributeValue,
) -> Result<()> {
    let mut put = |name: &str, value: AttributeValue| {
        item.insert(name.to_owned(), value);
    };
    put(attr::ID, s(envelope.id.as_str()));
    put(attr::TOPIC, s(&envelope.topic));
    put(attr::TYPE, s(&envelope.message_type));
    put(attr::SOURCE, s(&envelope.source));
    put(
        attr::TIME,
        s(envelope.time.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    );
    put(attr::CONTENT_TYPE, s(&envelope.content_type));
    put(attr::PAYLOAD, payload);
    for (name, value) in [
        (attr::SUBJECT, &envelope.subject),
        (attr::SCHEMA, &envelope.data_schema),
        (attr::CORRELATION, &envelope.correlation_id),
        (attr::CAUSATION, &envelope.causation_id),
        (attr::TRACEPARENT, &envelope.traceparent),
    ] {
        // DynamoDB refuses empty strings in key attributes only, but an absent attribute
        // reads back as `None`, which is what was staged.
        if let Some(value) = value {
            put(name, s(value));
        }
    }
    if !envelope.extensions.is_empty() {
        let json = serde_json::to_string(&envelope.extensions)
            .map_err(|e| tidings_core::Error::InvalidMessage(format!("extensions: {e}")))?;
        put(attr::EXTENSIONS, s(json));
    }
    Ok(())
}

fn text(item: &Item, name: &str) -> Result<String> {
    optional_text(item, name).ok_or_else(|| corrupt("outbox", format!("no text {name}")))
}

fn optional_text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

pub(crate) fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

pub(crate) fn time(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    number(item, name).and_then(DateTime::from_timestamp_micros)
}

/// The envelope held by an outbox row.
pub(crate) fn envelope(item: &Item) -> Result<Envelope> {
    envelope_keyed_by(item, attr::PK)
}

/// The envelope held by `item`, its partition key in attribute `key`. A payload that is not
/// binary is JSON the event store keeps as a map (or list, or value).
pub(crate) fn envelope_keyed_by(item: &Item, key: &str) -> Result<Envelope> {
    let payload = match item.get(attr::PAYLOAD) {
        Some(AttributeValue::B(blob)) => blob.clone().into_inner(),
        Some(json) => serde_json::to_vec(&crate::json::from_attribute(json)?)
            .map_err(|e| corrupt("stored event", format!("payload: {e}")))?,
        None => return Err(corrupt("outbox", "no payload")),
    };
    let mut envelope = Envelope::new(
        text(item, attr::TOPIC)?,
        text(item, key)?,
        text(item, attr::TYPE)?,
        text(item, attr::CONTENT_TYPE)?,
        payload,
    );
    envelope.id = MessageId::from(text(item, attr::ID)?);
    envelope.source = text(item, attr::SOURCE)?;
    envelope.time = DateTime::parse_from_rfc3339(&text(item, attr::TIME)?)
        .map_err(|e| corrupt("outbox", format!("time: {e}")))?
        .with_timezone(&Utc);
    envelope.subject = optional_text(item, attr::SUBJECT);
    envelope.data_schema = optional_text(item, attr::SCHEMA);
    envelope.correlation_id = optional_text(item, attr::CORRELATION);
    envelope.causation_id = optional_text(item, attr::CAUSATION);
    envelope.traceparent = optional_text(item, attr::TRACEPARENT);
    if let Some(json) = optional_text(item, attr::EXTENSIONS) {
        envelope.extensions = serde_json::from_str::<BTreeMap<String, ExtensionValue>>(&json)
            .map_err(|e| corrupt("outbox", format!("extensions: {e}")))?;
    }
    Ok(envelope)
}

/// A row as the relay sees it, with the fields that decide whether a claim may take it.
pub(crate) fn row_view(item: &Item) -> Result<ClaimView> {
    let status = RecordStatus::parse(&text(item, attr::STATUS)?)
        .ok_or_else(|| corrupt("outbox", "unknown status"))?;
    let record = OutboxRecord::new(
        envelope(item)?,
        number(item, attr::SK).ok_or_else(|| corrupt("outbox", "no sequence"))?,
        status,
        number(item, attr::ATTEMPTS)
            .and_then(|a| u32::try_from(a).ok())
            .unwrap_or(0),
        optional_text(item, attr::LAST_ERROR),
        time(item, attr::CREATED).ok_or_else(|| corrupt("outbox", "no created_at"))?,
    );
    Ok(ClaimView {
        record,
        next_attempt_at: time(item, attr::DUE).unwrap_or_default(),
        lease_until: time(item, attr::LEASE),
    })
}

/// The size DynamoDB counts for `item`: names plus values, numbers at about one byte per two
/// digits plus one.
pub(crate) fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => number.len().div_ceil(2) + 1,
        AttributeValue::B(blob) => blob.as_ref().len(),
        AttributeValue::Ss(items) => items.iter().map(String::len).sum(),
        AttributeValue::Ns(items) => items.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(items) => items.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(items) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// The bytes a transaction item carries: the whole item of a put, the key and the values of
/// an update, the key of a delete or a condition check.
pub(crate) fn write_size(write: &TransactWriteItem) -> usize {
    if let Some(put) = write.put() {
        item_size(put.item())
    } else if let Some(update) = write.update() {
        item_size(update.key())
            + update
                .expression_attribute_values()
                .map_or(0, |values| values.values().map(value_size).sum())
    } else if let Some(delete) = write.delete() {
        item_size(delete.key())
    } else if let Some(check) = write.condition_check() {
        item_size(check.key())
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_reads_back_as_staged() {
        let mut envelope = Envelope::new(
            "orders",
            "order-1",
            "order.placed",
            "application/json",
            b"{\"a\":1}".to_vec(),
        );
        envelope.subject = Some("subject".to_owned());
        envelope.correlation_id = Some("corr".to_owned());
        envelope
            .extensions
            .insert("tenant".to_owned(), ExtensionValue::from("acme"));
        envelope
            .extensions
            .insert("priority".to_owned(), ExtensionValue::Integer(3));
        let now = Utc::now();
        let item = row(&envelope, 42, now).unwrap();
        let view = row_view(&item).unwrap();
        assert_eq!(view.record.envelope, envelope);
        assert_eq!(view.record.sequence, 42);
        assert_eq!(view.record.status, RecordStatus::Pending);
        assert_eq!(
            view.next_attempt_at,
            DateTime::UNIX_EPOCH,
            "a new row is due at once on any clock"
        );
        assert_eq!(view.lease_until, None);
    }

    #[test]
    fn sizes_count_names_and_values() {
        let item = HashMap::from([
            ("ab".to_owned(), s("xyz")),
            ("n".to_owned(), n(1234)),
            ("b".to_owned(), AttributeValue::B(vec![0; 10].into())),
        ]);
        assert_eq!(item_size(&item), (2 + 3) + (1 + 3) + (1 + 10));
    }
}
