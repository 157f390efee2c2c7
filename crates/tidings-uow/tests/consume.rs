//! The consume engine over a record source of the test's own, applying into the in-memory
//! backend: lanes go independently, records are acknowledged only after they are done and in
//! order within their lane, and what cannot be applied is dead-lettered.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tidings_core::{
    BoxError, Delivery, Envelope, RecordSource, Result, RetryPolicy,
    cloudevents::{self, Record},
};
use tidings_memory::{MemoryBackend, MemoryTransaction};
use tidings_uow::{
    UnitOfWork, Work,
    consume::{ConsumeConfig, Consumer, ConsumerReport, EventHandler},
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Records queued by the test, in lanes named by their key.
#[derive(Default)]
struct Queue {
    waiting: Mutex<VecDeque<Delivery<u64>>>,
    arrived: Notify,
    acked: Mutex<Vec<(String, u64)>>,
    dead: Mutex<Vec<(u64, String)>>,
}

impl Queue {
    fn push(&self, lane: &str, position: u64, record: Record) {
        let delivery = Delivery {
            record,
            lane: lane.to_owned(),
            position,
        };
        self.waiting.lock().expect("queue").push_back(delivery);
        self.arrived.notify_one();
    }
}

impl RecordSource for Queue {
    type Position = u64;

    async fn next(&self) -> Result<Delivery<u64>> {
        loop {
            let arrived = self.arrived.notified();
            if let Some(delivery) = self.waiting.lock().expect("queue").pop_front() {
                return Ok(delivery);
            }
            arrived.await;
        }
    }

    fn ack(&self, position: &u64) -> Result<()> {
        let lane = if position.is_multiple_of(2) {
            "even"
        } else {
            "odd"
        };
        self.acked
            .lock()
            .expect("acked")
            .push((lane.to_owned(), *position));
        Ok(())
    }

    async fn dead_letter(&self, delivery: &Delivery<u64>, error: &str) -> Result<()> {
        self.dead
            .lock()
            .expect("dead")
            .push((delivery.position, error.to_owned()));
        Ok(())
    }

    async fn flush(&self) -> Result<()> {
        Ok(())
    }
}

fn event(key: &str, label: &str) -> Record {
    let envelope = Envelope::new(
        "steps",
        key,
        "test.step",
        "application/json",
        format!(r#"{{"label":"{label}"}}"#).into_bytes(),
    );
    cloudevents::encode_binary(&envelope)
}

/// Fails the event labelled `stuck` until released; records what it applied, in order.
#[derive(Default)]
struct Handler {
    released: AtomicBool,
    applied: Mutex<Vec<String>>,
}

impl EventHandler<MemoryTransaction> for Handler {
    async fn handle(
        &self,
        _work: &mut Work<MemoryTransaction>,
        event: &Envelope,
    ) -> std::result::Result<(), BoxError> {
        let label: serde_json::Value = serde_json::from_slice(&event.payload)?;
        let label = label["label"].as_str().unwrap_or_default().to_owned();
        if label == "stuck" && !self.released.load(Ordering::SeqCst) {
            return Err("not yet".into());
        }
        self.applied.lock().expect("applied").push(label);
        Ok(())
    }
}

fn consumer(queue: &Arc<Queue>, attempts: u32) -> Consumer<Arc<Queue>, MemoryBackend> {
    let retry = RetryPolicy::default()
        .with_max_attempts(attempts)
        .with_delays(Duration::from_millis(20), Duration::from_millis(20));
    Consumer::new(
        Arc::clone(queue),
        UnitOfWork::new(MemoryBackend::new()).with_consumer("test"),
        ConsumeConfig::default().with_retry(retry),
    )
}

async fn until(
    progress: &mut tokio::sync::watch::Receiver<ConsumerReport>,
    done: impl FnMut(&ConsumerReport) -> bool,
) {
    tokio::time::timeout(Duration::from_secs(10), progress.wait_for(done))
        .await
        .expect("the consumer did not get there within 10 s")
        .expect("progress");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_being_retried_holds_back_its_own_lane_only() {
    let queue = Arc::new(Queue::default());
    // Even positions are lane "even", odd ones lane "odd".
    queue.push("even", 0, event("a", "stuck"));
    queue.push("even", 2, event("a", "after-stuck"));
    for n in 0..10 {
        queue.push("odd", 2 * n + 1, event("b", &format!("b{n}")));
    }
    let consumer = consumer(&queue, 10_000);
    let handler = Handler::default();
    let mut progress = consumer.progress();
    let shutdown = CancellationToken::new();
    let run = consumer.run(&handler, shutdown.clone());
    let check = async {
        until(&mut progress, |r| r.applied >= 10).await;
        let applied = handler.applied.lock().expect("applied").clone();
        assert_eq!(applied.len(), 10, "{applied:?}");
        assert!(
            applied.iter().all(|l| l.starts_with('b')),
            "the held-back lane moved: {applied:?}"
        );
        assert!(
            queue
                .acked
                .lock()
                .expect("acked")
                .iter()
                .all(|(lane, _)| lane == "odd"),
            "a record of the held-back lane was acknowledged before it was applied"
        );
        handler.released.store(true, Ordering::SeqCst);
        until(&mut progress, |r| r.applied >= 12).await;
        shutdown.cancel();
    };
    let (report, ()) = tokio::join!(run, check);
    let report = report.expect("run");
    assert!(report.retries > 0, "{report:?}");
    let applied = handler.applied.lock().expect("applied").clone();
    assert_eq!(&applied[10..], ["stuck", "after-stuck"], "lane order kept");
    let even: Vec<u64> = queue
        .acked
        .lock()
        .expect("acked")
        .iter()
        .filter(|(lane, _)| lane == "even")
        .map(|(_, p)| *p)
        .collect();
    assert_eq!(even, [0, 2], "acknowledged in lane order, after applying");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_applied_is_dead_lettered_and_acknowledged() {
    let queue = Arc::new(Queue::default());
    queue.push("even", 0, event("a", "stuck"));
    let mut junk = event("a", "junk");
    junk.headers.clear();
    queue.push("even", 2, junk);
    queue.push("even", 4, event("a", "fine"));
    let consumer = consumer(&queue, 3);
    let handler = Handler::default();
    let mut progress = consumer.progress();
    let shutdown = CancellationToken::new();
    let run = consumer.run(&handler, shutdown.clone());
    let check = async {
        until(&mut progress, |r| r.processed() >= 3).await;
        shutdown.cancel();
    };
    let (report, ()) = tokio::join!(run, check);
    let report = report.expect("run");
    assert_eq!(
        (
            report.applied,
            report.dead_lettered,
            report.malformed,
            report.retries
        ),
        (1, 1, 1, 2),
        "{report:?}"
    );
    let dead = queue.dead.lock().expect("dead").clone();
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert_eq!(dead[0].0, 0);
    assert!(dead[0].1.contains("not yet"), "{dead:?}");
    assert_eq!(dead[1].0, 2);
    assert!(dead[1].1.contains("malformed CloudEvent"), "{dead:?}");
    let acked: Vec<u64> = queue
        .acked
        .lock()
        .expect("acked")
        .iter()
        .map(|(_, p)| *p)
        .collect();
    assert_eq!(acked, [0, 2, 4]);
}
