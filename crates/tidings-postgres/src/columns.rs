//! Envelopes as the arrays a statement `UNNEST`s, and back from rows: shared by the outbox
//! and the persistent publisher's event store, which keep the same fields.

use sqlx::{
    Postgres, Row,
    postgres::{PgArguments, PgRow},
    query::Query,
};
use tidings_core::{Envelope, Error, MessageId, Result};

use crate::error::classify;

/// The envelope columns, in the order of [`ENVELOPE_ARRAYS`].
pub(crate) struct EnvelopeColumns<'a> {
    envelopes: Vec<&'a Envelope>,
    extensions: Vec<serde_json::Value>,
    /// `None` where the payload is kept elsewhere (as JSONB, by the event store).
    payloads: Vec<Option<&'a [u8]>>,
}

/// The `UNNEST` arguments the bound columns fill, starting at `$1`.
pub(crate) const ENVELOPE_ARRAYS: &str = "$1::text[], $2::text[], $3::text[], $4::text[], \
     $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::jsonb[], \
     $11::bytea[], $12::text[], $13::text[], $14::text[]";

/// The columns [`ENVELOPE_ARRAYS`] fill, after the id column (named by the caller).
pub(crate) const ENVELOPE_FIELDS: &str = "topic, partition_key, message_type, source, \
     event_time, subject, data_schema, content_type, extensions, payload, correlation_id, \
     causation_id, traceparent";

impl<'a> EnvelopeColumns<'a> {
    pub(crate) fn new(envelopes: impl IntoIterator<Item = &'a Envelope>) -> Result<Self> {
        let envelopes: Vec<&Envelope> = envelopes.into_iter().collect();
        let extensions = envelopes
            .iter()
            .map(|e| serde_json::to_value(&e.extensions))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::InvalidMessage(format!("extensions: {e}")))?;
        let payloads = envelopes
            .iter()
            .map(|e| Some(e.payload.as_slice()))
            .collect();
        Ok(Self {
            envelopes,
            extensions,
            payloads,
        })
    }

    /// Leaves the payload column empty (NULL) for each envelope whose `json` is `Some`.
    pub(crate) fn without_payloads_kept_as(mut self, json: &[Option<serde_json::Value>]) -> Self {
        for (payload, json) in self.payloads.iter_mut().zip(json) {
            if json.is_some() {
                *payload = None;
            }
        }
        self
    }

    /// Binds the fourteen arrays, `$1` to `$14`.
    pub(crate) fn bind<'q>(
        &'q self,
        query: Query<'q, Postgres, PgArguments>,
    ) -> Query<'q, Postgres, PgArguments> {
        let envelopes = &self.envelopes;
        let column =
            |f: fn(&Envelope) -> String| envelopes.iter().copied().map(f).collect::<Vec<_>>();
        let optional = |f: fn(&Envelope) -> Option<String>| {
            envelopes.iter().copied().map(f).collect::<Vec<_>>()
        };
        query
            .bind(column(|e| e.id.to_string()))
            .bind(column(|e| e.topic.clone()))
            .bind(column(|e| e.key.clone()))
            .bind(column(|e| e.message_type.clone()))
            .bind(column(|e| e.source.clone()))
            .bind(envelopes.iter().map(|e| e.time).collect::<Vec<_>>())
            .bind(optional(|e| e.subject.clone()))
            .bind(optional(|e| e.data_schema.clone()))
            .bind(column(|e| e.content_type.clone()))
            .bind(&self.extensions)
            .bind(&self.payloads)
            .bind(optional(|e| e.correlation_id.clone()))
            .bind(optional(|e| e.causation_id.clone()))
            .bind(optional(|e| e.traceparent.clone()))
    }
}

/// The payload column, or — where the event store keeps a JSON payload as JSONB instead — the
/// JSON value's compact text.
fn payload_from_row(row: &PgRow) -> Result<Vec<u8>> {
    if let Some(bytes) = row
        .try_get::<Option<Vec<u8>>, _>("payload")
        .map_err(classify)?
    {
        return Ok(bytes);
    }
    let json: Option<serde_json::Value> = row.try_get("payload_json").map_err(classify)?;
    let json =
        json.ok_or_else(|| Error::corrupt("stored event", "neither payload nor payload_json"))?;
    serde_json::to_vec(&json)
        .map_err(|e| Error::corrupt("stored event", format!("payload_json: {e}")))
}

/// The envelope of a row with the envelope columns, its id read from column `id_column`.
pub(crate) fn envelope_from_row(row: &PgRow, id_column: &str) -> Result<Envelope> {
    let corrupt = |column: &str| Error::corrupt("outbox row", format!("bad {column}"));
    let get_text = |name: &str| row.try_get::<String, _>(name).map_err(classify);
    let extensions: serde_json::Value = row.try_get("extensions").map_err(classify)?;
    let mut envelope = Envelope::new(
        get_text("topic")?,
        get_text("partition_key")?,
        get_text("message_type")?,
        get_text("content_type")?,
        payload_from_row(row)?,
    );
    envelope.id = MessageId::from(get_text(id_column)?);
    envelope.source = get_text("source")?;
    envelope.time = row.try_get("event_time").map_err(classify)?;
    envelope.subject = row.try_get("subject").map_err(classify)?;
    envelope.data_schema = row.try_get("data_schema").map_err(classify)?;
    envelope.extensions = serde_json::from_value(extensions).map_err(|_| corrupt("extensions"))?;
    envelope.correlation_id = row.try_get("correlation_id").map_err(classify)?;
    envelope.causation_id = row.try_get("causation_id").map_err(classify)?;
    envelope.traceparent = row.try_get("traceparent").map_err(classify)?;
    Ok(envelope)
}
