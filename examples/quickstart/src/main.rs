//! The Tidings quickstart: an order service on SQLite publishes `OrderPlaced` through the outbox;
//! the relay delivers to the in-memory broker, which redelivers some records as a real broker
//! would after a consumer crash; a shipping service applies each event once through its inbox.
//! A rejected order rolls back and produces no event. Exits 0 only if every number agrees.

use std::{collections::HashSet, process::ExitCode, sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use tidings::{
    Handled, Message, OutboxRepository, UnitOfWorkError, cloudevents,
    memory::MemoryBroker,
    relay::{Relay, RelayConfig},
    sqlite::{SqliteBackend, SqliteUnitOfWork},
};
use tokio_util::sync::CancellationToken;

const TOPIC: &str = "orders";
const ORDERS: usize = 20;
/// Every n-th record is delivered a second time.
const REDELIVER_EVERY: usize = 4;

#[derive(Debug, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: String,
    customer: String,
    total_cents: i64,
}

impl Message for OrderPlaced {
    fn message_type(&self) -> &str {
        "com.example.order.placed"
    }
    fn aggregate_id(&self) -> String {
        self.order_id.clone()
    }
    fn topic(&self) -> Option<&str> {
        Some(TOPIC)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn open(dir: &std::path::Path, name: &str) -> Result<SqliteBackend, BoxError> {
    let backend = SqliteBackend::connect(&format!("sqlite://{}/{name}.db", dir.display())).await?;
    backend.migrate().await?;
    Ok(backend)
}

/// Places an order: the order row and its event commit together, or neither does.
async fn place_order(uow: &SqliteUnitOfWork, n: usize, decline: bool) -> Result<String, BoxError> {
    let order_id = format!("order-{n:03}");
    let placed = uow
        .run(async |work| {
            sqlx::query("INSERT INTO orders (id, customer, total_cents) VALUES (?, ?, ?)")
                .bind(&order_id)
                .bind(format!("customer-{}", n % 3))
                .bind(1000 + n as i64)
                .execute(&mut **work.transaction())
                .await?;
            work.stage(&OrderPlaced {
                order_id: order_id.clone(),
                customer: format!("customer-{}", n % 3),
                total_cents: 1000 + n as i64,
            })?;
            if decline {
                return Err::<(), BoxError>("payment declined".into());
            }
            Ok(())
        })
        .await;
    match placed {
        Ok(()) => Ok(order_id),
        Err(UnitOfWorkError::Handler(e)) => Err(e),
        Err(e) => Err(e.into()),
    }
}

#[derive(Default)]
struct Tally {
    placed: usize,
    rolled_back: usize,
    staged: u64,
    published: u64,
    records: usize,
    consumed: usize,
    duplicates: usize,
    redelivered: usize,
    shipments: i64,
    orders_in_db: i64,
    declined_event_seen: bool,
}

async fn run() -> Result<Tally, BoxError> {
    let dir = tempfile::tempdir()?;
    let orders_db = open(dir.path(), "orders").await?;
    let shipping_db = open(dir.path(), "shipping").await?;
    sqlx::query("CREATE TABLE orders (id TEXT PRIMARY KEY, customer TEXT, total_cents INTEGER)")
        .execute(orders_db.pool())
        .await?;
    sqlx::query("CREATE TABLE shipments (order_id TEXT PRIMARY KEY, customer TEXT)")
        .execute(shipping_db.pool())
        .await?;

    let orders = SqliteUnitOfWork::new(orders_db.clone());
    let shipping = SqliteUnitOfWork::new(shipping_db.clone()).with_consumer("shipping");
    let broker = MemoryBroker::new();
    let mut tally = Tally::default();

    // The relay runs in the background and wakes on each commit.
    let relay = Arc::new(Relay::new(
        orders_db.clone(),
        broker.clone(),
        RelayConfig::default(),
    ));
    let shutdown = CancellationToken::new();
    let relay_task = tokio::spawn({
        let (relay, shutdown) = (Arc::clone(&relay), shutdown.clone());
        async move { relay.run(shutdown).await }
    });

    let declined_order = format!("order-{:03}", ORDERS);
    for n in 0..ORDERS {
        place_order(&orders, n, false).await?;
        tally.placed += 1;
    }
    match place_order(&orders, ORDERS, true).await {
        Err(e) if e.to_string() == "payment declined" => tally.rolled_back += 1,
        other => return Err(format!("the declined order should fail, got {other:?}").into()),
    }

    // The consumer reads the topic from its offset, and the broker redelivers some records.
    let mut arrivals = broker.subscribe();
    let mut offset = 0;
    let mut seen = HashSet::new();
    let consume = async {
        while seen.len() < ORDERS || offset < broker.records(TOPIC).len() {
            let records = broker.records_from(TOPIC, offset);
            if records.is_empty() {
                arrivals.notified().await;
                continue;
            }
            for record in records {
                let event = cloudevents::decode(&record)?;
                let order: OrderPlaced = event.decode_json()?;
                let outcome = shipping
                    .handle(&event, async |work| {
                        sqlx::query("INSERT INTO shipments (order_id, customer) VALUES (?, ?)")
                            .bind(&order.order_id)
                            .bind(&order.customer)
                            .execute(&mut **work.transaction())
                            .await
                    })
                    .await
                    .map_err(|e| format!("handling {}: {e}", event.id))?;
                match outcome {
                    Handled::Applied(_) => tally.consumed += 1,
                    Handled::Duplicate => tally.duplicates += 1,
                }
                seen.insert(event.id.clone());
                if offset % REDELIVER_EVERY == 0
                    && offset < ORDERS
                    && broker.redeliver(TOPIC, offset)
                {
                    tally.redelivered += 1;
                }
                offset += 1;
            }
        }
        Ok::<_, BoxError>(())
    };
    tokio::time::timeout(Duration::from_secs(60), consume)
        .await
        .map_err(|_| "the consumer did not receive every event within 60 s")??;

    shutdown.cancel();
    relay_task.await?;

    let stats = orders_db.stats().await?;
    tally.staged = stats.pending + stats.leased + stats.published + stats.dead;
    tally.published = stats.published;
    tally.records = broker.records(TOPIC).len();
    tally.shipments = sqlx::query_scalar("SELECT COUNT(*) FROM shipments")
        .fetch_one(shipping_db.pool())
        .await?;
    tally.orders_in_db = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(orders_db.pool())
        .await?;
    tally.declined_event_seen = broker
        .envelopes(TOPIC)?
        .iter()
        .any(|e| e.key == declined_order);
    Ok(tally)
}

#[tokio::main]
async fn main() -> ExitCode {
    let tally = match run().await {
        Ok(tally) => tally,
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rows: [(&str, String, String); 8] = [
        (
            "orders placed",
            tally.placed.to_string(),
            format!("{ORDERS}"),
        ),
        (
            "events staged",
            tally.staged.to_string(),
            format!("{ORDERS}"),
        ),
        (
            "events published",
            tally.published.to_string(),
            format!("{ORDERS}"),
        ),
        (
            "records on the topic",
            tally.records.to_string(),
            format!("{ORDERS} + redelivered ({})", tally.redelivered),
        ),
        (
            "events consumed",
            tally.consumed.to_string(),
            format!("{ORDERS}"),
        ),
        (
            "shipments written",
            tally.shipments.to_string(),
            format!("{ORDERS}"),
        ),
        (
            "duplicates skipped",
            tally.duplicates.to_string(),
            format!("redelivered ({})", tally.redelivered),
        ),
        (
            "orders rolled back",
            tally.rolled_back.to_string(),
            "1, with no row and no event".to_owned(),
        ),
    ];
    println!(
        "Tidings quickstart: orders on SQLite -> relay -> in-memory broker -> consumer with an inbox"
    );
    println!("{:<22} {:>6}  expected", "", "actual");
    for (name, actual, expected) in &rows {
        println!("{name:<22} {actual:>6}  {expected}");
    }
    let agree = tally.placed == ORDERS
        && tally.staged == ORDERS as u64
        && tally.published == ORDERS as u64
        && tally.records == ORDERS + tally.redelivered
        && tally.consumed == ORDERS
        && tally.shipments == ORDERS as i64
        && tally.redelivered > 0
        && tally.duplicates == tally.redelivered
        && tally.rolled_back == 1
        && tally.orders_in_db == ORDERS as i64
        && !tally.declined_event_seen;
    if agree {
        println!(
            "OK: every event was published once and applied once; the rolled-back order left nothing"
        );
        ExitCode::SUCCESS
    } else {
        println!("MISMATCH: the numbers above do not agree");
        ExitCode::FAILURE
    }
}
