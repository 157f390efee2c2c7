use std::{future::Future, sync::Arc};

use chrono::{DateTime, Utc};

use crate::{Envelope, MessageId, Result};

mod json;

/// An event as the persistent publisher keeps it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StoredEvent {
    /// Where it is kept: `<topic>:<key>` on a compacted topic (the latest event of a key
    /// replaces the one before), the event id elsewhere.
    pub storage_id: String,
    /// The event: topic, key, type, payload, event id, correlation id, and custom headers as
    /// extensions. An event stored without an id has an empty one.
    pub envelope: Envelope,
    /// When it was stored; a republish never changes it.
    pub created: DateTime<Utc>,
    /// Whether the broker acknowledged it.
    pub published: bool,
}

impl StoredEvent {
    /// `envelope`, stored under `storage_id` at `created`, not yet published.
    pub fn new(storage_id: impl Into<String>, envelope: Envelope, created: DateTime<Utc>) -> Self {
        Self {
            storage_id: storage_id.into(),
            envelope,
            created,
            published: false,
        }
    }

    /// The payload as a JSON value, for stores that keep JSON payloads queryable (a JSONB
    /// column, a document, a map) so a data migration can update them in place. `Some` only
    /// when the content type is JSON (`application/json`, `text/json`, `+json`) and every
    /// store gives the value back unchanged: each number an `i64` or a decimal of at most 15
    /// significant digits within DynamoDB's range, no NUL in a string, no key that is empty,
    /// starts with `$` or holds a `.`, at most 32 levels deep. Anything else stays bytes.
    ///
    /// A payload kept as JSON is sent again as the same value, not the same bytes: key order
    /// (PostgreSQL), spacing and number spelling may change.
    pub fn json_payload(&self) -> Option<serde_json::Value> {
        json::queryable(&self.envelope.content_type, &self.envelope.payload)
    }

    /// Marks the copy as published (or not).
    pub fn with_published(mut self, published: bool) -> Self {
        self.published = published;
        self
    }
}

/// A page of stored events in `created` order (ties broken by storage id).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredEventQuery {
    /// Only events not yet published.
    pub unpublished_only: bool,
    /// Only events after this `(created, storage id)`: the last one of the previous page.
    pub after: Option<(DateTime<Utc>, String)>,
    /// Most events to return.
    pub limit: usize,
}

impl StoredEventQuery {
    /// The first page of up to `limit` events, published or not.
    pub fn all(limit: usize) -> Self {
        Self {
            unpublished_only: false,
            after: None,
            limit,
        }
    }

    /// The first page of up to `limit` unpublished events.
    pub fn unpublished(limit: usize) -> Self {
        Self {
            unpublished_only: true,
            ..Self::all(limit)
        }
    }

    /// The page after `event`.
    pub fn after(mut self, event: &StoredEvent) -> Self {
        self.after = Some((event.created, event.storage_id.clone()));
        self
    }
}

/// Where the persistent publisher keeps its copies.
pub trait EventStore: Send + Sync {
    /// Stores `events`, unpublished, replacing any kept under the same storage id; one round
    /// trip however many there are. A storage id appears at most once in `events`.
    fn store(&self, events: &[StoredEvent]) -> impl Future<Output = Result<()>> + Send;

    /// Marks published the events kept under these storage ids that still hold these event
    /// ids: a compacted slot overwritten meanwhile by a newer event stays unpublished.
    /// Returns how many were marked.
    fn mark_published(
        &self,
        events: &[(String, MessageId)],
    ) -> impl Future<Output = Result<u64>> + Send;

    /// A page of stored events.
    fn page(
        &self,
        query: &StoredEventQuery,
    ) -> impl Future<Output = Result<Vec<StoredEvent>>> + Send;

    /// Gives the event kept under `storage_id` the id `id`, if it has none yet; returns whether
    /// it did.
    fn assign_event_id(
        &self,
        storage_id: &str,
        id: &MessageId,
    ) -> impl Future<Output = Result<bool>> + Send;
}

impl<T: EventStore + ?Sized> EventStore for Arc<T> {
    fn store(&self, events: &[StoredEvent]) -> impl Future<Output = Result<()>> + Send {
        (**self).store(events)
    }

    fn mark_published(
        &self,
        events: &[(String, MessageId)],
    ) -> impl Future<Output = Result<u64>> + Send {
        (**self).mark_published(events)
    }

    fn page(
        &self,
        query: &StoredEventQuery,
    ) -> impl Future<Output = Result<Vec<StoredEvent>>> + Send {
        (**self).page(query)
    }

    fn assign_event_id(
        &self,
        storage_id: &str,
        id: &MessageId,
    ) -> impl Future<Output = Result<bool>> + Send {
        (**self).assign_event_id(storage_id, id)
    }
}
