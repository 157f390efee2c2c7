use std::{sync::Arc, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};
use mongodb::{
    Client, ClientSession, Collection,
    bson::{Bson, Document, doc},
    options::ClientOptions,
};
use tidings_core::{
    ClaimRequest, DeadLetterQuery, DeadLetterRepository, Envelope, Error, Hints, InboxClaim,
    InboxRepository, Limits, MessageId, Notifications, OutboxRecord, OutboxRepository, OutboxStats,
    Outcome, Result, Settlement, Transactional, sequence::ClockSequencer,
};
use tracing::warn;

use crate::{
    MongoTransaction, Names,
    document::{DEAD, LEASED, PENDING, PUBLISHED, date, to_document, to_record},
    error::{classify, is_duplicate_key, is_write_conflict},
    query::{all, delete_oldest, named_index},
    sequence::{self, LAST},
};

/// Outbox, inbox and dead letters in MongoDB. Cloning shares the client.
#[derive(Clone, Debug)]
pub struct MongoBackend {
    client: Client,
    names: Arc<Names>,
    limits: Limits,
    pub(crate) outbox: Collection<Document>,
    /// Each partition key's last sequence (see the `sequence` module).
    pub(crate) keys: Collection<Document>,
    inbox: Collection<Document>,
    pub(crate) sequencer: Arc<ClockSequencer>,
}

/// How long a claim of the inbox waits for a concurrent transaction holding the same message.
const INBOX_WAIT: Duration = Duration::from_secs(10);

impl MongoBackend {
    /// Connects to `url` (`mongodb://host:port/?replicaSet=rs0`) and checks that the server can
    /// run transactions. Call [`migrate`](Self::migrate) once before use.
    ///
    /// A standalone server cannot: the call fails here, with a message saying so, rather than
    /// at the first commit.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_options(url, None).await
    }

    /// [`connect`](Self::connect), waiting at most `timeout` for a server to answer (unless
    /// the URL sets `serverSelectionTimeoutMS` itself), here and on every operation later.
    pub async fn connect_within(url: &str, timeout: Duration) -> Result<Self> {
        Self::connect_options(url, Some(timeout)).await
    }

    async fn connect_options(url: &str, timeout: Option<Duration>) -> Result<Self> {
        // The URL may hold a password: it is not repeated in the error.
        let mut options = ClientOptions::parse(url)
            .await
            .map_err(|e| Error::Configuration(format!("invalid MongoDB URL: {}", e.kind)))?;
        if options.server_selection_timeout.is_none() {
            options.server_selection_timeout = timeout;
        }
        let client = Client::with_options(options)
            .map_err(|e| Error::Configuration(format!("invalid MongoDB URL: {}", e.kind)))?;
        let backend = Self::from_client(client);
        backend.check_transactions().await?;
        Ok(backend)
    }

    /// Uses a client the application already has, with the default [`Names`].
    pub fn from_client(client: Client) -> Self {
        Self::with_client_and_names(client, Names::default())
    }

    fn with_client_and_names(client: Client, names: Names) -> Self {
        let database = client.database(names.database());
        Self {
            outbox: database.collection(names.outbox()),
            keys: database.collection(&names.keys()),
            inbox: database.collection(names.inbox()),
            names: Arc::new(names),
            limits: Limits::default(),
            sequencer: Arc::default(),
            client,
        }
    }

    /// Uses the collections named by `names`.
    pub fn with_names(self, names: Names) -> Self {
        Self {
            limits: self.limits,
            sequencer: self.sequencer,
            ..Self::with_client_and_names(self.client, names)
        }
    }

    /// Numbers the rows this handle stages as if its clock ran `offset` ahead of this host's
    /// (behind, if negative), as a writer on another host might. For tests: whatever the
    /// clocks say, a key's rows follow commit order.
    pub fn with_clock_skew(mut self, offset: TimeDelta) -> Self {
        self.sequencer = Arc::new(ClockSequencer::skewed(offset));
        self
    }

    /// Enforces `limits` when staging.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The collections in use.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// The client, for the application's own collections.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Fails unless the server is a replica set member or a `mongos`: multi-document
    /// transactions exist nowhere else.
    pub async fn check_transactions(&self) -> Result<()> {
        let hello = self
            .client
            .database("admin")
            .run_command(doc! { "hello": 1 })
            .await
            .map_err(classify)?;
        if runs_transactions(&hello) {
            Ok(())
        } else {
            Err(Error::Configuration(
                "this MongoDB server is standalone and cannot run transactions, which the \
                 outbox and inbox need: run it as a replica set (one member is enough: \
                 `mongod --replSet rs0`, then `rs.initiate()`)"
                    .to_owned(),
            ))
        }
    }

    /// Creates the collections and their indexes if they do not exist. Safe to run from
    /// several instances at once.
    pub async fn migrate(&self) -> Result<()> {
        let database = self.client.database(self.names.database());
        let existing = database.list_collection_names().await.map_err(classify)?;
        for name in [self.names.outbox(), &self.names.keys(), self.names.inbox()] {
            if !existing.iter().any(|n| n == name) {
                // Collections must exist before a transaction writes to them. Two instances
                // creating one at once: the loser's "already exists" (48) is success.
                if let Err(error) = database.create_collection(name).await
                    && crate::error::code(&error) != Some(crate::error::NAMESPACE_EXISTS)
                {
                    return Err(classify(error));
                }
            }
        }
        self.outbox
            .create_indexes([
                // Claims: unfinished rows in sequence order.
                named_index(doc! { "status": 1, "sequence": 1 }, "tidings_by_status"),
                // Retention: published rows by age.
                named_index(doc! { "status": 1, "published_at": 1 }, "tidings_published"),
            ])
            .await
            .map_err(classify)?;
        self.keys
            // Retention: keys not written for a long time.
            .create_index(named_index(doc! { LAST: 1 }, "tidings_last"))
            .await
            .map_err(classify)?;
        self.inbox
            .create_index(named_index(doc! { "received_at": 1 }, "tidings_received"))
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn start_transaction(session: &mut ClientSession) -> Result<()> {
        session.start_transaction().await.map_err(classify)
    }
}

/// Whether a server that answered `hello` with `hello` can run multi-document transactions:
/// replica set members name their set, `mongos` routers say `isdbgrid`.
fn runs_transactions(hello: &Document) -> bool {
    hello.get_str("setName").is_ok() || hello.get_str("msg").is_ok_and(|m| m == "isdbgrid")
}

impl Transactional for MongoBackend {
    type Transaction = MongoTransaction;

    async fn begin(&self) -> Result<MongoTransaction> {
        let mut session = self.client.start_session().await.map_err(classify)?;
        Self::start_transaction(&mut session).await?;
        Ok(MongoTransaction { session })
    }

    async fn commit(&self, mut transaction: MongoTransaction) -> Result<()> {
        // A commit whose outcome the driver could not learn (a network error on the reply) is
        // safe to send again; the server applies it once.
        let mut attempts = 0;
        loop {
            match transaction.session.commit_transaction().await {
                Ok(()) => return Ok(()),
                Err(error)
                    if attempts < 3
                        && error
                            .contains_label(mongodb::error::UNKNOWN_TRANSACTION_COMMIT_RESULT) =>
                {
                    attempts += 1;
                }
                Err(error) => return Err(classify(error)),
            }
        }
    }

    async fn rollback(&self, mut transaction: MongoTransaction) -> Result<()> {
        transaction
            .session
            .abort_transaction()
            .await
            .map_err(classify)
    }
}

fn ids<'a>(settlements: &[&'a Settlement]) -> Vec<&'a str> {
    settlements.iter().map(|s| s.id.as_str()).collect()
}

fn unfinished() -> Bson {
    Bson::Document(doc! { "$in": [PENDING, LEASED] })
}

impl OutboxRepository for MongoBackend {
    async fn stage(
        &self,
        transaction: &mut MongoTransaction,
        envelopes: &[Envelope],
    ) -> Result<()> {
        if envelopes.is_empty() {
            return Ok(());
        }
        for envelope in envelopes {
            envelope.validate(&self.limits)?;
        }
        let now = self.sequencer.now();
        let sequences = sequence::number(self, &mut transaction.session, envelopes).await?;
        let documents = envelopes
            .iter()
            .zip(sequences)
            .map(|(envelope, sequence)| to_document(envelope, sequence, now))
            .collect::<Result<Vec<_>>>()?;
        self.outbox
            .insert_many(documents)
            .session(&mut transaction.session)
            .await
            .map_err(|error| {
                if is_duplicate_key(&error) {
                    Error::InvalidMessage(
                        "an event with one of these ids is already in the outbox".to_owned(),
                    )
                } else {
                    classify(error)
                }
            })?;
        Ok(())
    }

    async fn claim_batch(&self, request: &ClaimRequest) -> Result<Vec<OutboxRecord>> {
        crate::claim::claim(self, request).await
    }

    async fn settle(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        settlements: &[Settlement],
    ) -> Result<u64> {
        let of = |wanted: fn(&Outcome) -> bool| -> Vec<&Settlement> {
            settlements.iter().filter(|s| wanted(&s.outcome)).collect()
        };
        let published = of(|o| matches!(o, Outcome::Published));
        let released = of(|o| matches!(o, Outcome::Release));
        let unlease = doc! { "lease_owner": "", "lease_until": "", "claim": "" };
        let mut applied = 0;
        if !published.is_empty() {
            // Publishing needs no lease: the event was sent, whoever holds the row now.
            applied += self
                .outbox
                .update_many(
                    doc! { "_id": { "$in": ids(&published) }, "status": unfinished() },
                    doc! {
                        "$set": { "status": PUBLISHED, "published_at": date(now) },
                        "$unset": unlease.clone(),
                    },
                )
                .await
                .map_err(classify)?
                .modified_count;
        }
        if !released.is_empty() {
            applied += self
                .outbox
                .update_many(
                    doc! { "_id": { "$in": ids(&released) }, "status": LEASED, "lease_owner": owner },
                    doc! { "$set": { "status": PENDING }, "$unset": unlease.clone() },
                )
                .await
                .map_err(classify)?
                .modified_count;
        }
        // Failures carry an error (and a time) of their own: one update each. They are rare.
        for settlement in settlements {
            let (status, error, at) = match &settlement.outcome {
                Outcome::Retry { error, at } => (PENDING, error, Some(*at)),
                Outcome::DeadLetter { error } => (DEAD, error, None),
                Outcome::Published | Outcome::Release => continue,
            };
            let mut set = doc! { "status": status, "last_error": error };
            if let Some(at) = at {
                set.insert("next_attempt_at", date(at));
            }
            applied += self
                .outbox
                .update_one(
                    doc! { "_id": settlement.id.as_str(), "status": LEASED, "lease_owner": owner },
                    doc! { "$set": set, "$inc": { "attempts": 1 }, "$unset": unlease.clone() },
                )
                .await
                .map_err(classify)?
                .modified_count;
        }
        Ok(applied)
    }

    /// Also forgets keys whose last row was staged before `before`: a writer whose clock is
    /// not that far behind numbers a new row of such a key above its old ones anyway.
    async fn purge_published(&self, before: DateTime<Utc>, limit: u32) -> Result<u64> {
        let stale = before.timestamp_micros().saturating_mul(1000);
        delete_oldest(&self.keys, doc! { LAST: { "$lt": stale } }, LAST, limit).await?;
        let filter = doc! { "status": PUBLISHED, "published_at": { "$lt": date(before) } };
        delete_oldest(&self.outbox, filter, "published_at", limit).await
    }

    async fn stats(&self) -> Result<OutboxStats> {
        let groups = all(self
            .outbox
            .aggregate([doc! { "$group": { "_id": "$status", "n": { "$sum": 1 } } }]))
        .await?;
        let counts: Vec<(String, i64)> = groups
            .iter()
            .filter_map(|g| {
                let status = g.get_str("_id").ok()?.to_owned();
                let n = match g.get("n")? {
                    Bson::Int32(n) => i64::from(*n),
                    Bson::Int64(n) => *n,
                    _ => return None,
                };
                Some((status, n))
            })
            .collect();
        Ok(OutboxStats::from_counts(
            counts.iter().map(|(status, n)| (status.as_str(), *n)),
        ))
    }

    /// A change stream on the outbox collection, forwarding inserts until the subscription is
    /// dropped. Where change streams are not available, or outside a Tokio runtime, the relay
    /// polls.
    fn subscribe(&self) -> Option<Notifications> {
        let outbox = self.outbox.clone();
        Notifications::forward(move |hints| async move { forward_inserts(&outbox, &hints).await })
    }
}

/// Wakes `hints` on every insert into `outbox`, reopening the change stream when it ends (an
/// invalidation, a failover) or fails, after a pause so that a stream that keeps ending does
/// not spin.
async fn forward_inserts(outbox: &Collection<Document>, hints: &Hints) {
    let wake = || hints.wake();
    loop {
        let opened = outbox
            .watch()
            .pipeline([doc! { "$match": { "operationType": "insert" } }])
            .await;
        let mut stream = match opened {
            Ok(stream) => stream,
            Err(error) => {
                return warn!(%error, "cannot open a change stream on the outbox; relays will poll");
            }
        };
        // One getMore at a time rather than `next()`: a server that answers an empty batch at
        // once instead of waiting for data (SecantusDB does) would otherwise keep the driver
        // polling in a loop that never yields.
        while stream.is_alive() {
            let asked = tokio::time::Instant::now();
            match stream.next_if_any().await {
                Ok(Some(_)) => wake(),
                Ok(None) if asked.elapsed() < Duration::from_millis(5) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(None) => {}
                Err(error) => {
                    warn!(%error, "outbox change stream failed; reopening");
                    break;
                }
            }
        }
        // An insert may have been missed while the stream was down.
        wake();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

impl InboxRepository for MongoBackend {
    /// Inserts `{_id: {consumer, message}}` inside the transaction. A duplicate key means the
    /// message was applied. A write conflict means another transaction holds the same message
    /// right now: MongoDB does not wait for it, so the claim does — it aborts its own
    /// transaction (nothing has been written in it yet), waits until the other one has
    /// committed or given up, and starts again.
    async fn claim_message(
        &self,
        transaction: &mut MongoTransaction,
        consumer: &str,
        id: &MessageId,
        now: DateTime<Utc>,
    ) -> Result<InboxClaim> {
        let key = doc! { "consumer": consumer, "message": id.as_str() };
        let deadline = tokio::time::Instant::now() + INBOX_WAIT;
        let mut pause = Duration::from_millis(2);
        loop {
            let inserted = self
                .inbox
                .insert_one(doc! { "_id": key.clone(), "received_at": date(now) })
                .session(&mut transaction.session)
                .await;
            let error = match inserted {
                Ok(_) => return Ok(InboxClaim::Fresh),
                Err(error) if is_duplicate_key(&error) => return Ok(InboxClaim::Duplicate),
                Err(error)
                    if is_write_conflict(&error) && tokio::time::Instant::now() < deadline =>
                {
                    error
                }
                Err(error) => return Err(classify(error)),
            };
            tracing::debug!(%error, "inbox claim conflicts with a concurrent delivery; waiting");
            let _ = transaction.session.abort_transaction().await;
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
            MongoBackend::start_transaction(&mut transaction.session).await?;
        }
    }

    async fn purge_inbox(&self, before: DateTime<Utc>, limit: u32) -> Result<u64> {
        let filter = doc! { "received_at": { "$lt": date(before) } };
        delete_oldest(&self.inbox, filter, "received_at", limit).await
    }

    async fn contains(&self, consumer: &str, id: &MessageId) -> Result<bool> {
        let key = doc! { "consumer": consumer, "message": id.as_str() };
        let found = self
            .inbox
            .count_documents(doc! { "_id": key })
            .limit(1)
            .await
            .map_err(classify)?;
        Ok(found > 0)
    }
}

impl DeadLetterRepository for MongoBackend {
    async fn list_dead_letters(&self, query: &DeadLetterQuery) -> Result<Vec<OutboxRecord>> {
        let documents = all(self
            .outbox
            .find(doc! {
                "status": DEAD,
                "sequence": { "$gt": query.after_sequence.unwrap_or(i64::MIN) },
            })
            .sort(doc! { "sequence": 1 })
            .limit(i64::try_from(query.limit).unwrap_or(i64::MAX)))
        .await?;
        documents.iter().map(to_record).collect()
    }

    async fn retry_dead_letters(&self, ids: &[MessageId], now: DateTime<Utc>) -> Result<u64> {
        let ids: Vec<&str> = ids.iter().map(MessageId::as_str).collect();
        let result = self
            .outbox
            .update_many(
                doc! { "_id": { "$in": ids }, "status": DEAD },
                doc! { "$set": { "status": PENDING, "attempts": 0_i32, "next_attempt_at": date(now) } },
            )
            .await
            .map_err(classify)?;
        Ok(result.modified_count)
    }

    async fn purge_dead_letters(&self, ids: &[MessageId]) -> Result<u64> {
        let ids: Vec<&str> = ids.iter().map(MessageId::as_str).collect();
        let result = self
            .outbox
            .delete_many(doc! { "_id": { "$in": ids }, "status": DEAD })
            .await
            .map_err(classify)?;
        Ok(result.deleted_count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_replica_sets_and_routers_run_transactions() {
        let standalone = doc! { "isWritablePrimary": true, "maxWireVersion": 21, "ok": 1.0 };
        let member = doc! { "isWritablePrimary": true, "setName": "rs0", "ok": 1.0 };
        let router = doc! { "isWritablePrimary": true, "msg": "isdbgrid", "ok": 1.0 };
        assert!(!runs_transactions(&standalone));
        assert!(runs_transactions(&member));
        assert!(runs_transactions(&router));
    }
}
