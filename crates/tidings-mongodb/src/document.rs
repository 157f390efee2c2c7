//! Outbox rows as BSON documents. Times the relay compares (`next_attempt_at`, `lease_until`,
//! `created_at`, `published_at`) are BSON dates, so operators can read them and a TTL index can
//! use them; the event's own time is kept as RFC 3339 text because BSON dates stop at
//! milliseconds and the event must leave exactly as it was staged.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use mongodb::bson::{self, Binary, Bson, Document, doc, spec::BinarySubtype};
use tidings_core::{
    Envelope, Error, ExtensionValue, MessageId, OutboxRecord, RecordStatus, Result,
    claim_policy::ClaimView,
};

pub(crate) const PENDING: &str = "pending";
pub(crate) const LEASED: &str = "leased";
pub(crate) const PUBLISHED: &str = "published";
pub(crate) const DEAD: &str = "dead";

/// A BSON date for `time` (milliseconds).
pub(crate) fn date(time: DateTime<Utc>) -> bson::DateTime {
    bson::DateTime::from_millis(time.timestamp_millis())
}

pub(crate) fn from_date(date: bson::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(date.timestamp_millis()).unwrap_or_default()
}

fn optional(value: &Option<String>) -> Bson {
    value.clone().map_or(Bson::Null, Bson::String)
}

/// The event's own fields (its id aside), as outbox rows keep them: the payload as binary.
pub(crate) fn envelope_fields(envelope: &Envelope) -> Result<Document> {
    let payload = Binary {
        subtype: BinarySubtype::Generic,
        bytes: envelope.payload.clone(),
    };
    envelope_fields_with(envelope, payload.into())
}

/// The event's own fields (its id aside), its payload given as the caller keeps it.
pub(crate) fn envelope_fields_with(envelope: &Envelope, payload: Bson) -> Result<Document> {
    let extensions = bson::to_document(&envelope.extensions)
        .map_err(|e| Error::InvalidMessage(format!("extensions: {e}")))?;
    Ok(doc! {
        "topic": &envelope.topic,
        "partition_key": &envelope.key,
        "message_type": &envelope.message_type,
        "source": &envelope.source,
        "event_time": envelope.time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        "subject": optional(&envelope.subject),
        "data_schema": optional(&envelope.data_schema),
        "content_type": &envelope.content_type,
        "extensions": extensions,
        "payload": payload,
        "correlation_id": optional(&envelope.correlation_id),
        "causation_id": optional(&envelope.causation_id),
        "traceparent": optional(&envelope.traceparent),
    })
}

/// The document staged for `envelope` at `sequence`.
pub(crate) fn to_document(
    envelope: &Envelope,
    sequence: i64,
    now: DateTime<Utc>,
) -> Result<Document> {
    let mut document = doc! { "_id": envelope.id.as_str(), "sequence": sequence };
    document.extend(envelope_fields(envelope)?);
    document.extend(doc! {
        "status": PENDING,
        "attempts": 0_i32,
        "last_error": Bson::Null,
        // Due at once (the Unix epoch) on any relay's clock: the staging host's may run ahead.
        "next_attempt_at": bson::DateTime::from_millis(0),
        "created_at": date(now),
    });
    Ok(document)
}

fn corrupt(field: &str) -> Error {
    Error::corrupt(
        "outbox document",
        format!("field {field} is missing or mistyped"),
    )
}

fn text(document: &Document, field: &str) -> Result<String> {
    document
        .get_str(field)
        .map(str::to_owned)
        .map_err(|_| corrupt(field))
}

fn optional_text(document: &Document, field: &str) -> Option<String> {
    document.get_str(field).ok().map(str::to_owned)
}

/// The record held by `document`.
pub(crate) fn to_record(document: &Document) -> Result<OutboxRecord> {
    let envelope = to_envelope(document, "_id")?;
    let status =
        RecordStatus::parse(&text(document, "status")?).ok_or_else(|| corrupt("status"))?;
    let attempts = match document.get("attempts") {
        Some(Bson::Int32(n)) => u32::try_from(*n).unwrap_or(0),
        Some(Bson::Int64(n)) => u32::try_from(*n).unwrap_or(0),
        _ => 0,
    };
    Ok(OutboxRecord::new(
        envelope,
        document
            .get_i64("sequence")
            .map_err(|_| corrupt("sequence"))?,
        status,
        attempts,
        optional_text(document, "last_error"),
        document
            .get_datetime("created_at")
            .map(|d| from_date(*d))
            .map_err(|_| corrupt("created_at"))?,
    ))
}

/// The envelope held by `document`, its id in field `id_field`.
pub(crate) fn to_envelope(document: &Document, id_field: &str) -> Result<Envelope> {
    let payload = match document.get("payload") {
        Some(Bson::Binary(binary)) => binary.bytes.clone(),
        // A JSON payload the event store keeps as a document (or array, or value).
        Some(json) => serde_json::to_vec(&json.clone().into_relaxed_extjson())
            .map_err(|_| corrupt("payload"))?,
        None => return Err(corrupt("payload")),
    };
    let mut envelope = Envelope::new(
        text(document, "topic")?,
        text(document, "partition_key")?,
        text(document, "message_type")?,
        text(document, "content_type")?,
        payload,
    );
    envelope.id = MessageId::from(text(document, id_field)?);
    envelope.source = text(document, "source")?;
    envelope.time = DateTime::parse_from_rfc3339(&text(document, "event_time")?)
        .map_err(|_| corrupt("event_time"))?
        .with_timezone(&Utc);
    envelope.subject = optional_text(document, "subject");
    envelope.data_schema = optional_text(document, "data_schema");
    envelope.extensions = match document.get_document("extensions") {
        Ok(extensions) => {
            bson::from_document::<BTreeMap<String, ExtensionValue>>(extensions.clone())
                .map_err(|_| corrupt("extensions"))?
        }
        Err(_) => BTreeMap::new(),
    };
    envelope.correlation_id = optional_text(document, "correlation_id");
    envelope.causation_id = optional_text(document, "causation_id");
    envelope.traceparent = optional_text(document, "traceparent");
    Ok(envelope)
}

pub(crate) fn to_claim_view(document: &Document) -> Result<ClaimView> {
    Ok(ClaimView {
        record: to_record(document)?,
        next_attempt_at: document
            .get_datetime("next_attempt_at")
            .map(|d| from_date(*d))
            .map_err(|_| corrupt("next_attempt_at"))?,
        lease_until: document
            .get_datetime("lease_until")
            .ok()
            .map(|d| from_date(*d)),
    })
}
