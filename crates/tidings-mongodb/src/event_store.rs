use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use mongodb::{
    Client, Collection,
    bson::{Binary, Bson, Document, doc, spec::BinarySubtype},
    options::ReplaceOneModel,
};
use tidings_core::{Error, EventStore, MessageId, Result, StoredEvent, StoredEventQuery};

use crate::{
    Names,
    document::{date, envelope_fields_with, from_date, to_envelope},
    error::{classify, code},
    names::validate_collection,
    query::{all, named_index},
};

/// The persistent publisher's copies in a MongoDB collection (by default
/// `tidings_published_events` in the database of a [`Names`]), `_id` being the storage id.
#[derive(Clone, Debug)]
pub struct MongoEventStore {
    client: Client,
    events: Collection<Document>,
    /// MongoDB before 8.0 has no `bulkWrite` command: copies are then replaced one by one.
    one_by_one: Arc<AtomicBool>,
}

/// MongoDB's code for a command the server does not know.
const COMMAND_NOT_FOUND: i32 = 59;

impl MongoEventStore {
    /// The store in the database of `names`. Call [`migrate`](Self::migrate) once before use.
    pub fn new(client: Client, names: &Names) -> Self {
        let events = client
            .database(names.database())
            .collection("tidings_published_events");
        Self {
            client,
            events,
            one_by_one: Arc::default(),
        }
    }

    /// The store of service `service_name`, in the collection hexkit names for it:
    /// `{service_name}PersistedEvents` (`abcPersistedEvents` for service `abc`), so that a
    /// service moving from hexkit's persistent publisher keeps its collection.
    pub fn for_service(client: Client, names: &Names, service_name: &str) -> Result<Self> {
        let collection = format!("{service_name}PersistedEvents");
        Self::new(client, names).with_collection(names, &collection)
    }

    /// Connects to `url` and opens the store in `collection` of `database`, its indexes
    /// created: one call for a service that has no client of its own yet. A standalone server
    /// will do (the store needs no transactions).
    pub async fn open(url: &str, database: &str, collection: &str) -> Result<Self> {
        let names = Names::in_database(database)?;
        // The URL may hold a password: it is not repeated in the error.
        let client = Client::with_uri_str(url)
            .await
            .map_err(|e| Error::Configuration(format!("invalid MongoDB URL: {}", e.kind)))?;
        let store = Self::new(client, &names).with_collection(&names, collection)?;
        store.migrate().await?;
        Ok(store)
    }

    /// Keeps the copies in collection `collection`.
    pub fn with_collection(self, names: &Names, collection: &str) -> Result<Self> {
        validate_collection(collection)?;
        Ok(Self {
            events: self
                .client
                .database(names.database())
                .collection(collection),
            ..self
        })
    }

    /// The database the copies are kept in.
    pub fn database(&self) -> String {
        self.events.namespace().db
    }

    /// The collection the copies are kept in.
    pub fn collection(&self) -> &str {
        self.events.name()
    }

    /// Creates the indexes the store reads through.
    pub async fn migrate(&self) -> Result<()> {
        self.events
            .create_indexes([
                named_index(doc! { "created": 1, "_id": 1 }, "tidings_created"),
                named_index(
                    doc! { "published": 1, "created": 1, "_id": 1 },
                    "tidings_unpublished",
                ),
            ])
            .await
            .map_err(classify)?;
        Ok(())
    }

    fn document(event: &StoredEvent) -> Result<Document> {
        let mut document = doc! {
            "_id": &event.storage_id,
            "event_id": event.envelope.id.as_str(),
        };
        // A JSON payload as a document, so a data migration can update it in place.
        let payload = match event.json_payload() {
            Some(json) => Bson::try_from(json)
                .map_err(|e| Error::InvalidMessage(format!("payload as a document: {e}")))?,
            None => Binary {
                subtype: BinarySubtype::Generic,
                bytes: event.envelope.payload.clone(),
            }
            .into(),
        };
        document.extend(envelope_fields_with(&event.envelope, payload)?);
        document.insert("created", date(event.created));
        document.insert("published", false);
        Ok(document)
    }
}

fn stored(document: &Document) -> Result<StoredEvent> {
    let corrupt = |field: &str| {
        Error::corrupt(
            "stored event",
            format!("field {field} is missing or mistyped"),
        )
    };
    Ok(StoredEvent::new(
        document.get_str("_id").map_err(|_| corrupt("_id"))?,
        to_envelope(document, "event_id")?,
        document
            .get_datetime("created")
            .map(|d| from_date(*d))
            .map_err(|_| corrupt("created"))?,
    )
    .with_published(document.get_bool("published").unwrap_or(false)))
}

impl EventStore for MongoEventStore {
    async fn store(&self, events: &[StoredEvent]) -> Result<()> {
        let replacements = events
            .iter()
            .map(|event| Ok((event.storage_id.as_str(), Self::document(event)?)))
            .collect::<Result<Vec<_>>>()?;
        if replacements.is_empty() {
            return Ok(());
        }
        if !self.one_by_one.load(Ordering::Relaxed) {
            let models = replacements.iter().map(|(id, document)| {
                ReplaceOneModel::builder()
                    .namespace(self.events.namespace())
                    .filter(doc! { "_id": *id })
                    .replacement(document.clone())
                    .upsert(true)
                    .build()
            });
            match self.client.bulk_write(models).await {
                Ok(_) => return Ok(()),
                Err(error) if code(&error) == Some(COMMAND_NOT_FOUND) => {
                    self.one_by_one.store(true, Ordering::Relaxed);
                }
                Err(error) => return Err(classify(error)),
            }
        }
        for (id, document) in replacements {
            self.events
                .replace_one(doc! { "_id": id }, document)
                .upsert(true)
                .await
                .map_err(classify)?;
        }
        Ok(())
    }

    async fn mark_published(&self, events: &[(String, MessageId)]) -> Result<u64> {
        if events.is_empty() {
            return Ok(0);
        }
        // Only copies still holding the event that was sent. Two `$in`s say the same as a list
        // of (storage id, event id) pairs, because an event is only ever kept under the one
        // storage id it maps to; unlike an `$or` of pairs, they go through the `_id` index.
        let storage_ids: Vec<&str> = events.iter().map(|(s, _)| s.as_str()).collect();
        let event_ids: Vec<&str> = events.iter().map(|(_, id)| id.as_str()).collect();
        let result = self
            .events
            .update_many(
                doc! { "_id": { "$in": storage_ids }, "event_id": { "$in": event_ids } },
                doc! { "$set": { "published": true } },
            )
            .await
            .map_err(classify)?;
        Ok(result.modified_count)
    }

    async fn page(&self, query: &StoredEventQuery) -> Result<Vec<StoredEvent>> {
        let mut filter = Document::new();
        if query.unpublished_only {
            filter.insert("published", false);
        }
        if let Some((created, id)) = &query.after {
            filter.insert(
                "$or",
                vec![
                    Bson::Document(doc! { "created": { "$gt": date(*created) } }),
                    Bson::Document(doc! { "created": date(*created), "_id": { "$gt": id } }),
                ],
            );
        }
        let documents = all(self
            .events
            .find(filter)
            .sort(doc! { "created": 1, "_id": 1 })
            .limit(i64::try_from(query.limit).unwrap_or(i64::MAX)))
        .await?;
        documents.iter().map(stored).collect()
    }

    async fn assign_event_id(&self, storage_id: &str, id: &MessageId) -> Result<bool> {
        let result = self
            .events
            .update_one(
                doc! { "_id": storage_id, "event_id": "" },
                doc! { "$set": { "event_id": id.as_str() } },
            )
            .await
            .map_err(classify)?;
        Ok(result.modified_count == 1)
    }
}
