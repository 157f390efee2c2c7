//! Wire compatibility with GHGA hexkit 9, tested against hexkit itself: its own Kafka
//! subscriber (`tests/hexkit/subscribe.py`) reads what Tidings publishes with the hexkit
//! header profiles, and Tidings' consumer reads what hexkit's own publisher
//! (`tests/hexkit/publish.py`) sends, on the test broker (Tansu). hexkit lives in the venv
//! `scripts/services up` makes (`TIDINGS_HEXKIT_PYTHON`).

use std::{
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};
use tidings::{
    BoxError, Envelope, ExtensionValue, cloudevents,
    context::{self, Context},
    kafka::{ConsumerConfig, HeaderProfile, KafkaConfig, KafkaConsumer, KafkaPublisher},
    memory::{MemoryBackend, MemoryEventStore},
    persistent::{EventParts, PersistentConfig, PersistentPublisher},
    relay::{Relay, RelayConfig},
    sqlite::{SqliteBackend, SqliteUnitOfWork},
};
use tidings_testkit::{
    kafka::{TestTopic, kafka_from_env},
    server_from_env, unique,
};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("hexkit")
        .join(name)
}

/// The servers and hexkit's Python, or `None` (a skip, or a failure under CI).
fn setup() -> Option<(KafkaConfig, String)> {
    let kafka = kafka_from_env()?;
    let python = server_from_env("TIDINGS_HEXKIT_PYTHON")?;
    Some((kafka, python))
}

/// Runs hexkit's subscriber on `topic` until it consumed `count` events of `event_type`; each
/// as the JSON line it printed.
async fn hexkit_reads(
    python: &str,
    kafka: &KafkaConfig,
    topic: &str,
    event_type: &str,
    count: usize,
) -> Vec<Value> {
    let output = tokio::process::Command::new(python)
        .arg(script("subscribe.py"))
        .args([&kafka.bootstrap_servers, topic, event_type])
        .arg(count.to_string())
        .arg(unique("hexkit-sub"))
        .output()
        .await
        .expect("run hexkit's subscriber");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "hexkit's subscriber failed: {stderr}"
    );
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(
        lines.len(),
        count,
        "hexkit's subscriber printed: {lines:?}; {stderr}"
    );
    lines
}

#[tokio::test]
async fn hexkit_subscriber_reads_what_tidings_publishes() {
    let Some((kafka, python)) = setup() else {
        return;
    };
    let topic = TestTopic::create(&kafka, "hexkit-in", 1).await;

    // The persistent publisher, as a service leaving hexkit's PersistentKafkaPublisher runs
    // it, with the caller's correlation id in context.
    let caller = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b";
    let persistent = PersistentPublisher::new(
        MemoryEventStore::new(),
        KafkaPublisher::new(&kafka)
            .expect("publisher")
            .with_headers(HeaderProfile::Hexkit),
        PersistentConfig::new(),
    )
    .expect("persistent publisher");
    let parts = EventParts::new(
        json!({"name": "Zoë", "n": 1}),
        "user_created",
        "user-1",
        &topic.name,
    )
    .with_header("tenant", "t1");
    let persisted = context::scope(
        Context::correlated(caller),
        persistent.publish_parts(&parts),
    )
    .await
    .expect("published");

    // The outbox and relay, with both profiles at once: a CloudEvent that hexkit also reads.
    // Its correlation id, a UUIDv7 as Tidings makes them, goes as its UUID4 twin.
    let dir = tempfile::tempdir().expect("dir");
    let backend = SqliteBackend::connect(&format!("sqlite://{}/hx.db", dir.path().display()))
        .await
        .expect("open");
    backend.migrate().await.expect("migrate");
    let mut staged = Envelope::new(
        &topic.name,
        "user-2",
        "user_created",
        "application/json",
        json!({"name": "Åsa", "n": 2}).to_string(),
    );
    staged.correlation_id = Some(uuid::Uuid::now_v7().to_string());
    let staged_id = staged.id.clone();
    SqliteUnitOfWork::new(backend.clone())
        .run(async |work| work.stage_envelope(staged.clone()))
        .await
        .expect("staged");
    let both = KafkaPublisher::new(&kafka)
        .expect("publisher")
        .with_headers(HeaderProfile::CloudEventsAndHexkit);
    let drained = Relay::new(backend, both, RelayConfig::default())
        .drain()
        .await
        .expect("relayed");
    assert_eq!(drained.total.published, 1);

    let read = hexkit_reads(&python, &kafka, &topic.name, "user_created", 2).await;
    assert_eq!(read[0]["event_id"], persisted.as_str());
    assert_eq!(read[0]["correlation_id"], caller);
    assert_eq!(read[0]["key"], "user-1");
    assert_eq!(read[0]["payload"], json!({"name": "Zoë", "n": 1}));
    assert_eq!(read[1]["event_id"], staged_id.as_str());
    assert_eq!(read[1]["payload"]["name"], "Åsa");
    let twin = read[1]["correlation_id"]
        .as_str()
        .expect("a correlation id");
    assert_eq!(uuid_version(twin), 4, "{twin}");

    // The relayed record is a CloudEvent too, and keeps the UUIDv7 there.
    let records = topic.read(&kafka, 2).await;
    let cloud_event = cloudevents::decode(&records[1]).expect("a strict CloudEvent");
    assert_eq!(cloud_event.id, staged_id);
    let ours = cloud_event.correlation_id.expect("a correlation id");
    assert_eq!(uuid_version(&ours), 7);
    assert_eq!(ours[..14], twin[..14], "the twin keeps the id's bits");
    topic.delete(&kafka).await;
}

fn uuid_version(text: &str) -> usize {
    uuid::Uuid::parse_str(text)
        .expect("a UUID")
        .get_version_num()
}

/// Keeps every event it is given.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<Envelope>>>);

impl<Tx: Send> tidings::kafka::EventHandler<Tx> for Collect {
    async fn handle(
        &self,
        _work: &mut tidings::Work<Tx>,
        event: &Envelope,
    ) -> Result<(), BoxError> {
        self.0.lock().expect("lock").push(event.clone());
        Ok(())
    }
}

#[tokio::test]
async fn tidings_consumer_reads_what_hexkit_publishes() {
    let Some((kafka, python)) = setup() else {
        return;
    };
    let topic = TestTopic::create(&kafka, "hexkit-out", 1).await;
    let sent: Vec<Value> = (0..3)
        .map(|n| {
            json!({
                "topic": topic.name,
                "type": "file_uploaded",
                "key": format!("file-{n}"),
                "payload": {"file_id": n, "name": format!("café-{n}.txt")},
                "event_id": uuid::Uuid::new_v4().to_string(),
                "correlation_id": uuid::Uuid::new_v4().to_string(),
                "headers": {"tenant": "t1"},
            })
        })
        .collect();
    let mut publisher = tokio::process::Command::new(&python)
        .arg(script("publish.py"))
        .arg(&kafka.bootstrap_servers)
        .stdin(Stdio::piped())
        .spawn()
        .expect("run hexkit's publisher");
    let mut stdin = publisher.stdin.take().expect("stdin");
    for event in &sent {
        stdin
            .write_all(format!("{event}\n").as_bytes())
            .await
            .expect("write");
    }
    drop(stdin);
    assert!(
        publisher.wait().await.expect("wait").success(),
        "hexkit's publisher failed"
    );

    let consumer = KafkaConsumer::new(
        &kafka,
        ConsumerConfig::new(unique("from-hexkit"), &[&topic.name])
            .with_headers(HeaderProfile::Hexkit)
            .with_session_timeout(Duration::from_secs(6)),
        tidings::UnitOfWork::new(MemoryBackend::new()),
    )
    .expect("consumer");
    let collected = Collect::default();
    let mut progress = consumer.progress();
    let shutdown = CancellationToken::new();
    let (reached, report) = tokio::join!(
        async {
            let reached = tokio::time::timeout(
                Duration::from_secs(60),
                progress.wait_for(|r| r.applied + r.malformed >= 3),
            )
            .await
            .is_ok();
            shutdown.cancel();
            reached
        },
        consumer.run(&collected, shutdown.clone())
    );
    let report = report.expect("consumer run");
    assert!(reached, "not every event arrived: {report:?}");
    assert_eq!((report.applied, report.malformed), (3, 0), "{report:?}");

    let got = collected.0.lock().expect("lock").clone();
    for (event, sent) in got.iter().zip(&sent) {
        assert_eq!(event.id.as_str(), sent["event_id"]);
        assert_eq!(event.message_type, "file_uploaded");
        assert_eq!(event.key, sent["key"]);
        assert_eq!(
            event.correlation_id.as_deref(),
            sent["correlation_id"].as_str()
        );
        assert_eq!(
            event.extensions.get("tenant"),
            Some(&ExtensionValue::String("t1".to_owned()))
        );
        let payload: Value = event.decode_json().expect("JSON");
        assert_eq!(payload, sent["payload"]);
    }
    assert_eq!(got.len(), 3);
    // librdkafka crashes on a deleted topic its consumer still follows.
    drop(consumer);
    topic.delete(&kafka).await;
}
