use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tidings_core::{EventStore, MessageId, Result, StoredEvent, StoredEventQuery};

/// The persistent publisher's copies in memory, for tests and demos. Cloning shares them.
#[derive(Clone, Debug, Default)]
pub struct MemoryEventStore {
    events: Arc<Mutex<BTreeMap<String, StoredEvent>>>,
}

impl MemoryEventStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every copy, in `created` order.
    pub fn events(&self) -> Vec<StoredEvent> {
        let mut events: Vec<StoredEvent> = self.lock().values().cloned().collect();
        events.sort_by(|a, b| (a.created, &a.storage_id).cmp(&(b.created, &b.storage_id)));
        events
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, StoredEvent>> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EventStore for MemoryEventStore {
    async fn store(&self, events: &[StoredEvent]) -> Result<()> {
        let mut stored = self.lock();
        for event in events {
            stored.insert(
                event.storage_id.clone(),
                event.clone().with_published(false),
            );
        }
        Ok(())
    }

    async fn mark_published(&self, events: &[(String, MessageId)]) -> Result<u64> {
        let mut stored = self.lock();
        let mut marked = 0;
        for (storage_id, id) in events {
            if let Some(event) = stored.get_mut(storage_id)
                && &event.envelope.id == id
                && !event.published
            {
                event.published = true;
                marked += 1;
            }
        }
        Ok(marked)
    }

    async fn page(&self, query: &StoredEventQuery) -> Result<Vec<StoredEvent>> {
        Ok(self
            .events()
            .into_iter()
            .filter(|e| !(query.unpublished_only && e.published))
            .filter(|e| {
                query
                    .after
                    .as_ref()
                    .is_none_or(|(created, id)| (e.created, &e.storage_id) > (*created, id))
            })
            .take(query.limit)
            .collect())
    }

    async fn assign_event_id(&self, storage_id: &str, id: &MessageId) -> Result<bool> {
        let mut stored = self.lock();
        match stored.get_mut(storage_id) {
            Some(event) if event.envelope.id.as_str().is_empty() => {
                event.envelope.id = id.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
