use std::{sync::Arc, time::Duration};

use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use tidings_core::{
    ClaimRequest, DeadLetterQuery, DeadLetterRepository, Envelope, InboxClaim, InboxRepository,
    MessageId, Notifications, Notifier, OutboxRecord, OutboxRepository, OutboxStats, Result,
    Settlement, Transactional, sequence::ClockSequencer,
};

use crate::{
    DynamoTransaction, Tables,
    change::Change,
    item::{attr, micros},
};

/// Outbox, inbox and dead letters in DynamoDB. Cloning is cheap and clones share the client.
#[derive(Clone, Debug)]
pub struct DynamoBackend {
    pub(crate) client: Client,
    pub(crate) tables: Tables,
    pub(crate) shards: u16,
    pub(crate) published_retention: Option<chrono::Duration>,
    pub(crate) inbox_retention: Option<chrono::Duration>,
    pub(crate) sequencer: Arc<ClockSequencer>,
    notifier: Arc<Notifier>,
}

/// Seven days, the relay's default retention of published rows.
const DEFAULT_PUBLISHED_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Thirty days: longer than Kafka's default retention of seven, so a redelivery is still
/// recognised.
const DEFAULT_INBOX_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Largest payload a row takes: DynamoDB's 400 KB item limit less room for the other
/// attributes.
pub const MAX_PAYLOAD_BYTES: usize = 380 * 1024;

fn to_chrono(retention: Option<Duration>) -> Option<chrono::Duration> {
    retention.map(|r| chrono::Duration::from_std(r).unwrap_or(chrono::Duration::MAX))
}

impl DynamoBackend {
    /// A backend configured from the standard AWS environment: region (`AWS_REGION`),
    /// credentials (environment, profile, SSO, container or instance role) and endpoint
    /// (`AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL`, for local servers).
    pub async fn from_env() -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(Client::new(&config))
    }

    /// [`from_env`](Self::from_env), talking to `endpoint` (`http://localhost:8000`) when
    /// given instead of the one the environment names.
    pub async fn from_env_at(endpoint: Option<&str>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        Self::new(Client::new(&loader.load().await))
    }

    /// A backend over a client the service already has.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            tables: Tables::default(),
            shards: 8,
            published_retention: to_chrono(Some(DEFAULT_PUBLISHED_RETENTION)),
            inbox_retention: to_chrono(Some(DEFAULT_INBOX_RETENTION)),
            sequencer: Arc::default(),
            notifier: Arc::default(),
        }
    }

    /// Numbers the rows this handle commits as if its clock ran `offset` ahead of this host's
    /// (behind, if negative), as a writer on another host might. For tests: whatever the
    /// clocks say, a key's rows follow commit order.
    pub fn with_clock_skew(mut self, offset: chrono::TimeDelta) -> Self {
        self.sequencer = Arc::new(ClockSequencer::skewed(offset));
        self
    }

    /// Uses tables `tables` (by default `tidings_outbox` and `tidings_inbox`).
    pub fn with_tables(mut self, tables: Tables) -> Self {
        self.tables = tables;
        self
    }

    /// Spreads active keys over `shards` partitions of the `active` index (default 8, at least
    /// 1). More shards spread a busy outbox's writes wider; every claim reads each shard, so an
    /// idle relay costs one query per shard per poll. Raise it freely; lower it only while the
    /// outbox is drained, since keys in a shard beyond the new count would not be found.
    pub fn with_shards(mut self, shards: u16) -> Self {
        self.shards = shards.max(1);
        self
    }

    /// Published rows get a TTL this long after publishing (default 7 days); `None` keeps
    /// them until [`purge_published`](OutboxRepository::purge_published).
    pub fn with_published_retention(mut self, retention: Option<Duration>) -> Self {
        self.published_retention = to_chrono(retention);
        self
    }

    /// Inbox claims get a TTL this long after the claim (default 30 days, longer than the
    /// broker keeps messages); `None` keeps them until
    /// [`purge_inbox`](InboxRepository::purge_inbox).
    pub fn with_inbox_retention(mut self, retention: Option<Duration>) -> Self {
        self.inbox_retention = to_chrono(retention);
        self
    }

    /// The client, for the handler's own reads.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table names.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }
}

impl Transactional for DynamoBackend {
    type Transaction = DynamoTransaction;

    async fn begin(&self) -> Result<DynamoTransaction> {
        Ok(DynamoTransaction::new())
    }

    async fn commit(&self, transaction: DynamoTransaction) -> Result<()> {
        self.commit_transaction(transaction).await
    }

    /// Nothing was sent: dropping the collected writes is the rollback.
    async fn rollback(&self, transaction: DynamoTransaction) -> Result<()> {
        drop(transaction);
        Ok(())
    }
}

impl OutboxRepository for DynamoBackend {
    async fn stage(
        &self,
        transaction: &mut DynamoTransaction,
        envelopes: &[Envelope],
    ) -> Result<()> {
        // A row must fit in one 400 KB item; the payload limit leaves room for the rest.
        let limits = tidings_core::Limits::default().with_max_payload_bytes(MAX_PAYLOAD_BYTES);
        for envelope in envelopes {
            envelope.validate(&limits)?;
        }
        let before = transaction.staged.len();
        transaction.staged.extend_from_slice(envelopes);
        if let Err(e) = transaction.check_item_count() {
            transaction.staged.truncate(before);
            return Err(e);
        }
        Ok(())
    }

    async fn claim_batch(&self, request: &ClaimRequest) -> Result<Vec<OutboxRecord>> {
        self.claim(request).await
    }

    async fn settle(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        settlements: &[Settlement],
    ) -> Result<u64> {
        self.settle_rows(owner, now, settlements).await
    }

    async fn purge_published(&self, before: DateTime<Utc>, limit: u32) -> Result<u64> {
        self.purge_published_rows(before, limit).await
    }

    /// Scans the outbox, reading each item's status: the cost grows with the table, so keep
    /// the relay's maintenance interval long on large tables.
    async fn stats(&self) -> Result<OutboxStats> {
        self.count_rows().await
    }

    /// Hints from commits made through this backend (and its clones) in this process; rows
    /// committed elsewhere are found by polling.
    fn subscribe(&self) -> Option<Notifications> {
        Some(self.notifier.subscribe())
    }

    fn after_commit(&self) {
        self.notifier.notify();
    }
}

impl InboxRepository for DynamoBackend {
    /// Reads the claim with strong consistency (a message applied before is a duplicate
    /// without running the handler) and adds a conditional put of it to the transaction: a
    /// concurrent delivery that commits first makes the commit report
    /// [`tidings_core::Error::AlreadyApplied`], which the unit of work turns into a duplicate.
    async fn claim_message(
        &self,
        transaction: &mut DynamoTransaction,
        consumer: &str,
        id: &MessageId,
        _now: DateTime<Utc>,
    ) -> Result<InboxClaim> {
        let already = transaction
            .claims
            .iter()
            .any(|(c, i)| c == consumer && i == id);
        if already || self.is_claimed(consumer, id).await? {
            return Ok(InboxClaim::Duplicate);
        }
        transaction.claims.push((consumer.to_owned(), id.clone()));
        if let Err(e) = transaction.check_item_count() {
            transaction.claims.pop();
            return Err(e);
        }
        Ok(InboxClaim::Fresh)
    }

    async fn purge_inbox(&self, before: DateTime<Utc>, limit: u32) -> Result<u64> {
        let filter = Change::filter("#claimed < :before")
            .name("#claimed", attr::CLAIMED)
            .value(":before", micros(before));
        self.purge_where(
            self.tables.inbox(),
            [attr::CONSUMER, attr::ID],
            &filter,
            limit,
        )
        .await
    }

    async fn contains(&self, consumer: &str, id: &MessageId) -> Result<bool> {
        self.is_claimed(consumer, id).await
    }
}

impl DeadLetterRepository for DynamoBackend {
    async fn list_dead_letters(&self, query: &DeadLetterQuery) -> Result<Vec<OutboxRecord>> {
        self.list_dead(query).await
    }

    async fn retry_dead_letters(&self, ids: &[MessageId], now: DateTime<Utc>) -> Result<u64> {
        self.retry_dead(ids, now).await
    }

    async fn purge_dead_letters(&self, ids: &[MessageId]) -> Result<u64> {
        self.purge_dead(ids).await
    }
}
