//! What `#[derive(Message)]` and the typed-events publisher cost when staging, against a
//! hand-written `impl Message` and `work.stage`: the same 300-byte events, 100 per transaction
//! on one PostgreSQL connection, the three ways measured in turn, round after round, each
//! round starting with another, so that the machine's drift falls on each alike. The figure
//! of each is its median round.

use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};
use tidings_core::{Error, Message};
use tidings_events::{CustomEvent, EventConfig, EventError, Events, PublishEvents};
use tidings_postgres::PostgresBackend;
use tidings_uow::UnitOfWork;

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

/// The three ways, in events per second: hand-written, derived, through `Events::publish`.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct TypedStaging {
    pub(crate) by_hand: f64,
    pub(crate) derived: f64,
    pub(crate) publisher: f64,
}

pub(crate) async fn typed_staging(url: &str, transactions: u64, rounds: usize) -> TypedStaging {
    let backend = fixture::schema(url, 2).await;
    let uow = UnitOfWork::new(backend.clone());
    let events = Events::new(&EventConfig::new("bench")).expect("a valid configuration");
    let mut rates: [Vec<f64>; 3] = Default::default();
    for round in 0..rounds {
        // Each round starts with another way: the outbox grows as they run, and the later in a
        // round would otherwise always meet the bigger table.
        for way in (0..3).map(|w| (w + round) % 3) {
            let rate = match way {
                0 => staged_by_hand(&uow, transactions).await,
                1 => staged_derived(&uow, transactions).await,
                _ => staged_by_publisher(&uow, &events, transactions).await,
            };
            rates[way].push(rate);
        }
    }
    let [by_hand, derived, publisher] = rates;
    fixture::drop_schema(&backend).await;
    TypedStaging {
        by_hand: median(by_hand),
        derived: median(derived),
        publisher: median(publisher),
    }
}

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

fn key(n: u64) -> String {
    format!("key-{}", n % KEYS)
}

fn rate(transactions: u64, started: Instant) -> f64 {
    (transactions * PER_TRANSACTION) as f64 / started.elapsed().as_secs_f64()
}

async fn staged_by_hand(uow: &UnitOfWork<PostgresBackend>, transactions: u64) -> f64 {
    let started = Instant::now();
    for t in 0..transactions {
        uow.run(async |work| {
            for n in t * PER_TRANSACTION..(t + 1) * PER_TRANSACTION {
                let pad = pad();
                work.stage(&ByHand {
                    key: key(n),
                    n,
                    pad,
                })?;
            }
            Ok::<_, Error>(())
        })
        .await
        .expect("stage by hand");
    }
    rate(transactions, started)
}

async fn staged_derived(uow: &UnitOfWork<PostgresBackend>, transactions: u64) -> f64 {
    let started = Instant::now();
    for t in 0..transactions {
        uow.run(async |work| {
            for n in t * PER_TRANSACTION..(t + 1) * PER_TRANSACTION {
                let pad = pad();
                work.stage(&Derived {
                    key: key(n),
                    n,
                    pad,
                })?;
            }
            Ok::<_, Error>(())
        })
        .await
        .expect("stage derived");
    }
    rate(transactions, started)
}

async fn staged_by_publisher(
    uow: &UnitOfWork<PostgresBackend>,
    events: &Events,
    transactions: u64,
) -> f64 {
    let started = Instant::now();
    for t in 0..transactions {
        uow.run(async |work| {
            for n in t * PER_TRANSACTION..(t + 1) * PER_TRANSACTION {
                let data: Value = json!({ "n": n, "pad": pad() });
                let event = CustomEvent::new("bench.event", key(n), data);
                events.publish(Some(&mut *work), "bench", event).await?;
            }
            Ok::<_, EventError>(())
        })
        .await
        .expect("stage through the publisher");
    }
    rate(transactions, started)
}
