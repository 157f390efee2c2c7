//! What `#[derive(Message)]`, the typed-events publisher and a publishing attribute cost when
//! staging, against a hand-written `impl Message` and `work.stage`: the same events, 100 per
//! transaction, the four ways taking turns transaction by transaction (each turn starting with
//! another way), so that the machine's drift falls on each alike. Measured twice: on one
//! PostgreSQL connection, and on the in-memory backend, where nothing but building and staging
//! the envelopes costs anything.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use tidings_core::{InboxRepository, Message, OutboxRepository};
use tidings_events::{CustomEvent, EventConfig, EventError, Events, PublishEvents};
use tidings_memory::MemoryBackend;
use tidings_uow::{UnitOfWork, Work};

use crate::fixture::{self, KEYS, PAYLOAD_BYTES};

/// Events per transaction.
const PER_TRANSACTION: u64 = 100;

/// The event written by hand.
#[derive(Serialize)]
struct ByHand {
    key: String,
    n: u64,
    pad: String,
}

impl Message for ByHand {
    fn message_type(&self) -> &str {
        "bench.event"
    }
    fn aggregate_id(&self) -> String {
        self.key.clone()
    }
    fn topic(&self) -> Option<&str> {
        Some("bench")
    }
}

/// The same event, derived.
#[derive(Serialize, tidings_macros::Message)]
#[tidings(crate = tidings_core, type = "bench.event", topic = "bench", aggregate = key)]
struct Derived {
    key: String,
    n: u64,
    pad: String,
}

fn pad() -> String {
    // The body's other fields take about 40 bytes of the 300.
    "x".repeat(PAYLOAD_BYTES - 40)
}

/// The four ways, in events per second.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct TypedStaging {
    pub(crate) by_hand: f64,
    pub(crate) derived: f64,
    /// `Events::publish` of a `CustomEvent`.
    pub(crate) publisher: f64,
    /// A method with `#[publish_on_success]`, called once per event.
    pub(crate) attribute: f64,
}

impl TypedStaging {
    /// Each way's rate over the hand-written one's.
    pub(crate) fn ratios(&self) -> [f64; 3] {
        [self.derived, self.publisher, self.attribute].map(|rate| rate / self.by_hand)
    }
}

/// Staging on PostgreSQL and in memory.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct TypedStagingRuns {
    pub(crate) postgres: TypedStaging,
    pub(crate) memory: TypedStaging,
}

pub(crate) async fn typed_staging(url: &str, transactions: u64) -> TypedStagingRuns {
    let events = Events::new(&EventConfig::new("bench")).expect("a valid configuration");
    let backend = fixture::schema(url, 2).await;
    let postgres = UnitOfWork::new(backend.clone());
    let postgres = interleaved(|| postgres.clone(), &events, transactions).await;
    fixture::drop_schema(&backend).await;
    // A new backend for each transaction: one that kept every event would make the
    // transaction that grows its storage pay for copying all the others.
    let memory = || UnitOfWork::new(MemoryBackend::new());
    let memory = interleaved(memory, &events, transactions * 4).await;
    TypedStagingRuns { postgres, memory }
}

/// `transactions` of each way, taking turns, each in a unit of work `uow` makes.
async fn interleaved<B>(
    uow: impl Fn() -> UnitOfWork<B>,
    events: &Events,
    transactions: u64,
) -> TypedStaging
where
    B: OutboxRepository + InboxRepository,
    B::Transaction: Send,
{
    let service = Service {
        events: events.clone(),
    };
    let mut spent = [Duration::ZERO; 4];
    for t in 0..transactions {
        for turn in 0..4 {
            let way = (turn + t as usize) % 4;
            let uow = uow();
            let started = Instant::now();
            let events = t * PER_TRANSACTION..(t + 1) * PER_TRANSACTION;
            let staged = uow
                .run(async |work| match way {
                    0 => stage_by_hand(work, events),
                    1 => stage_derived(work, events),
                    2 => stage_by_publisher(work, &service.events, events).await,
                    _ => stage_by_attribute(work, &service, events).await,
                })
                .await;
            staged.expect("staged");
            spent[way] += started.elapsed();
        }
    }
    let rate = |way: usize| (transactions * PER_TRANSACTION) as f64 / spent[way].as_secs_f64();
    TypedStaging {
        by_hand: rate(0),
        derived: rate(1),
        publisher: rate(2),
        attribute: rate(3),
    }
}

fn key(n: u64) -> String {
    format!("key-{}", n % KEYS)
}

fn stage_by_hand<Tx>(work: &mut Work<Tx>, events: std::ops::Range<u64>) -> Result<(), EventError> {
    for n in events {
        work.stage(&ByHand {
            key: key(n),
            n,
            pad: pad(),
        })?;
    }
    Ok(())
}

fn stage_derived<Tx>(work: &mut Work<Tx>, events: std::ops::Range<u64>) -> Result<(), EventError> {
    for n in events {
        work.stage(&Derived {
            key: key(n),
            n,
            pad: pad(),
        })?;
    }
    Ok(())
}

async fn stage_by_publisher<Tx: Send>(
    work: &mut Work<Tx>,
    events: &Events,
    range: std::ops::Range<u64>,
) -> Result<(), EventError> {
    for n in range {
        let data: Value = json!({ "n": n, "pad": pad() });
        let event = CustomEvent::new("bench.event", key(n), data);
        events.publish(Some(&mut *work), "bench", event).await?;
    }
    Ok(())
}

async fn stage_by_attribute<Tx: Send>(
    work: &mut Work<Tx>,
    service: &Service,
    range: std::ops::Range<u64>,
) -> Result<(), EventError> {
    for n in range {
        service.record(work, key(n), n).await?;
    }
    Ok(())
}

/// A service whose method publishes what it returns.
struct Service {
    events: Events,
}

impl Service {
    #[tidings_macros::publish_on_success(
        topic = "bench",
        event_type = "bench.event",
        key_field = key,
        publisher = self.events,
        crate = tidings_events
    )]
    async fn record<Tx: Send>(
        &self,
        work: &mut Work<Tx>,
        key: String,
        n: u64,
    ) -> Result<Value, EventError> {
        let _ = (work, key);
        Ok(json!({ "n": n, "pad": pad() }))
    }
}
