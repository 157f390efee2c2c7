//! Shared pieces of the end-to-end tests: a PostgreSQL → relay → Kafka → consumer pipeline in a
//! schema and on topics of its own, a private Tansu broker that can be paused, and the audit that
//! counts lost, duplicated and out-of-order events.

use std::{
    collections::HashMap,
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tidings::{
    Envelope, EventPublisher, Message, RetryPolicy,
    cloudevents::Record,
    kafka::{
        ConsumerConfig, ConsumerReport, KafkaAdmin, KafkaConfig, KafkaConsumer, KafkaPublisher,
    },
    postgres::{PostgresBackend, PostgresUnitOfWork, Schema},
    relay::{Relay, RelayConfig},
};
pub use tidings_testkit::{kafka::read_topic, ledger::PostgresLedger, server_from_env, unique};
use tokio::task::JoinHandle;

pub mod faults;
use tokio_util::sync::CancellationToken;

/// Partitions of every test topic.
pub const PARTITIONS: i32 = 3;

/// One step of an account: the n-th event of key `account`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Step {
    /// The key.
    pub account: String,
    /// Position within the key.
    pub n: u32,
    #[serde(skip)]
    topic: String,
}

impl Step {
    /// Step `n` of `account`, sent to `topic`.
    pub fn new(account: impl Into<String>, n: u32, topic: impl Into<String>) -> Self {
        Self {
            account: account.into(),
            n,
            topic: topic.into(),
        }
    }
}

impl Message for Step {
    fn message_type(&self) -> &str {
        "test.step"
    }
    fn aggregate_id(&self) -> String {
        self.account.clone()
    }
    fn topic(&self) -> Option<&str> {
        Some(&self.topic)
    }
}

/// What reached the consumer, against what was produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Audit {
    /// Events produced and never applied.
    pub lost: usize,
    /// Events the broker delivered more than once (skipped by the inbox).
    pub duplicated: u64,
    /// Applications that came before an earlier event of the same key.
    pub out_of_order: usize,
    /// Events applied.
    pub applied: usize,
}

impl Audit {
    /// The audit of `applied` (account and step, in the order they were applied) against
    /// `produced` events, printed for the test log.
    pub fn of(applied: &[(String, i64)], produced: usize, duplicated: u64) -> Self {
        let mut last: HashMap<&str, i64> = HashMap::new();
        let mut audit = Audit {
            applied: applied.len(),
            duplicated,
            ..Audit::default()
        };
        for (account, n) in applied {
            if last
                .get(account.as_str())
                .is_some_and(|previous| n <= previous)
            {
                audit.out_of_order += 1;
            }
            last.insert(account, *n);
        }
        audit.lost = produced - applied.len().min(produced);
        println!("{audit:?}");
        audit
    }
}

/// A pipeline in a schema and on a topic of its own.
pub struct Pipeline {
    /// The producer's (and the consumer's) database.
    pub backend: PostgresBackend,
    /// The Kafka cluster.
    pub kafka: KafkaConfig,
    /// The events' topic.
    pub topic: String,
    schema: String,
    ledger: PostgresLedger,
}

impl Pipeline {
    /// Sets up a schema, tables and a topic; `None` when the servers are not configured (and
    /// not under CI).
    pub async fn new(kafka: Option<KafkaConfig>) -> Option<Self> {
        let url = server_from_env("DATABASE_URL")?;
        let kafka = match kafka {
            Some(kafka) => kafka,
            None => KafkaConfig::new(server_from_env("KAFKA_BOOTSTRAP_SERVERS")?),
        };
        let schema = unique("e2e").replace('-', "_");
        let backend = PostgresBackend::connect(&url)
            .await
            .expect("connect to DATABASE_URL")
            .with_schema(Schema::in_schema(&schema).expect("schema name"));
        backend.migrate().await.expect("migrate");
        let ledger = PostgresLedger::create(backend.pool(), &schema).await;
        let topic = unique("steps");
        KafkaAdmin::new(&kafka)
            .expect("admin")
            .ensure_topic(&topic, PARTITIONS)
            .await
            .expect("create topic");
        Some(Self {
            backend,
            kafka,
            topic,
            schema,
            ledger,
        })
    }

    /// The outbox's schema.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Stages `per_key` steps for each of `keys` accounts, ten per unit of work, keys interleaved.
    pub async fn produce(&self, keys: u32, per_key: u32) {
        self.produce_more(keys, 0, per_key).await;
    }

    /// Stages steps `from..to` for each of `keys` accounts.
    pub async fn produce_more(&self, keys: u32, from: u32, to: u32) {
        let uow = PostgresUnitOfWork::new(self.backend.clone());
        let steps: Vec<(u32, u32)> = (from..to)
            .flat_map(|n| (0..keys).map(move |k| (k, n)))
            .collect();
        for chunk in steps.chunks(10) {
            uow.run(async |work| {
                for (k, n) in chunk {
                    work.stage(&Step::new(format!("acct-{k}"), *n, &self.topic))?;
                }
                Ok::<_, tidings::Error>(())
            })
            .await
            .expect("unit of work");
        }
    }

    /// A relay task with a short lease, so that a killed relay's rows come back quickly.
    pub fn spawn_relay<P: EventPublisher + 'static>(
        &self,
        name: &str,
        publisher: P,
        shutdown: CancellationToken,
    ) -> JoinHandle<()> {
        let config = RelayConfig::default()
            .with_owner(name)
            .with_batch_size(64)
            .with_lease(Duration::from_secs(3))
            .with_poll_interval(Duration::from_millis(100))
            .with_retry(
                RetryPolicy::default()
                    .with_max_attempts(1000)
                    .with_delays(Duration::from_millis(100), Duration::from_secs(1)),
            );
        let relay = Relay::new(self.backend.clone(), publisher, config);
        tokio::spawn(async move { relay.run(shutdown).await })
    }

    /// A consumer of the topic applying into the ledger through the PostgreSQL inbox.
    pub fn consumer(&self) -> Arc<KafkaConsumer<PostgresBackend>> {
        let config = ConsumerConfig::new(unique("ledger"), &[&self.topic])
            .with_session_timeout(Duration::from_secs(6));
        Arc::new(
            KafkaConsumer::new(
                &self.kafka,
                config,
                PostgresUnitOfWork::new(self.backend.clone()),
            )
            .expect("consumer"),
        )
    }

    /// Runs `consumer` until `done` holds for its report (or `within` runs out), then stops it;
    /// returns the duplicates it skipped.
    pub async fn consume(
        &self,
        consumer: Arc<KafkaConsumer<PostgresBackend>>,
        done: impl Fn(&ConsumerReport) -> bool,
        within: Duration,
    ) -> u64 {
        let mut progress = consumer.progress();
        let shutdown = CancellationToken::new();
        let ledger = self.ledger.clone();
        let running = tokio::spawn({
            let (consumer, shutdown) = (Arc::clone(&consumer), shutdown.clone());
            async move { consumer.run(&ledger, shutdown).await }
        });
        let reached = tokio::time::timeout(within, progress.wait_for(|r| done(r))).await;
        shutdown.cancel();
        let report = running.await.expect("consumer task").expect("consumer run");
        if reached.is_err() {
            println!("consumer report when time ran out: {report:?}");
        }
        report.duplicates
    }

    /// Counts what the ledger holds against `keys` × `per_key` produced steps.
    pub async fn audit(&self, keys: u32, per_key: u32, duplicated: u64) -> Audit {
        let rows: Vec<(String, i64)> = self
            .ledger
            .applied(self.backend.pool())
            .await
            .iter()
            .map(|(_, payload)| {
                let step: Step = serde_json::from_slice(payload).expect("a step");
                (step.account, i64::from(step.n))
            })
            .collect();
        Audit::of(&rows, (keys * per_key) as usize, duplicated)
    }

    /// Rows currently leased by relay `owner` (any of its workers).
    pub async fn leased_by(&self, owner: &str) -> i64 {
        sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM \"{}\".tidings_outbox WHERE status = 'leased' AND (lease_owner = $1 OR lease_owner LIKE $1 || '#%')",
            self.schema
        ))
        .bind(owner)
        .fetch_one(self.backend.pool())
        .await
        .expect("count leases")
    }

    /// Reads `count` records of the topic from the beginning of every partition.
    pub async fn read_all(&self, count: u32) -> Vec<Record> {
        read_topic(&self.kafka, &self.topic, PARTITIONS, count as usize).await
    }

    /// Drops the schema and the topic.
    pub async fn clean_up(self) {
        if let Ok(admin) = KafkaAdmin::new(&self.kafka) {
            let _ = admin.delete_topics(&[&self.topic]).await;
        }
        let _ = sqlx::query(&format!("DROP SCHEMA \"{}\" CASCADE", self.schema))
            .execute(self.backend.pool())
            .await;
    }
}

/// A Tansu broker of the test's own (from `TANSU_BIN`), which the test may pause and resume.
pub struct PrivateBroker {
    child: Child,
    /// Its address.
    pub bootstrap: String,
}

impl PrivateBroker {
    /// Starts one on a free port; `None` without `TANSU_BIN` (and not under CI).
    pub async fn start() -> Option<Self> {
        let binary = server_from_env("TANSU_BIN")?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        let bootstrap = format!("127.0.0.1:{port}");
        tokio::time::timeout(Duration::from_secs(30), async {
            while tokio::net::TcpStream::connect(&bootstrap).await.is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("tansu did not listen within 30 s");
        Some(Self { child, bootstrap })
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Freezes the broker: it keeps its connections and data but answers nothing.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets it run again.
    pub fn resume(&self) {
        self.signal("-CONT");
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        self.resume();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A publisher that holds every batch for a while before sending it, so that a relay using it is
/// almost always in the middle of a batch, holding leases.
pub struct Stalling<P>(pub P, pub Duration);

impl<P: EventPublisher> EventPublisher for Stalling<P> {
    async fn publish_batch(&self, envelopes: &[Envelope]) -> Vec<tidings::Result<()>> {
        tokio::time::sleep(self.1).await;
        self.0.publish_batch(envelopes).await
    }
}

/// A Kafka publisher that creates each topic the first time it sends to it, and deletes them
/// all on [`delete_topics`](Self::delete_topics): for suites whose topics are made per case.
#[derive(Clone)]
pub struct CreatingTopics {
    publisher: KafkaPublisher,
    admin: Arc<KafkaAdmin>,
    created: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
}

impl CreatingTopics {
    /// A publisher to the cluster of `kafka`.
    pub fn new(kafka: &KafkaConfig) -> Self {
        Self {
            publisher: KafkaPublisher::new(kafka).expect("publisher"),
            admin: Arc::new(KafkaAdmin::new(kafka).expect("admin")),
            created: Arc::default(),
        }
    }

    /// Deletes every topic it created.
    pub async fn delete_topics(&self) {
        let topics: Vec<String> = std::mem::take(&mut *self.created.lock().expect("lock"))
            .into_iter()
            .collect();
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        if !names.is_empty() {
            self.admin
                .delete_topics(&names)
                .await
                .expect("delete topics");
        }
    }
}

impl EventPublisher for CreatingTopics {
    async fn publish_batch(&self, envelopes: &[Envelope]) -> Vec<tidings::Result<()>> {
        let new: Vec<String> = {
            let created = self.created.lock().expect("lock");
            envelopes
                .iter()
                .map(|e| e.topic.clone())
                .filter(|t| !created.contains(t))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        for topic in new {
            self.admin
                .ensure_topic(&topic, 1)
                .await
                .expect("create topic");
            self.created.lock().expect("lock").insert(topic);
        }
        self.publisher.publish_batch(envelopes).await
    }
}
