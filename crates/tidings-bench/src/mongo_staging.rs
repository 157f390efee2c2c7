//! MongoDB staging at 100 events per transaction, on one connection: through the unit of work,
//! which numbers rows above their keys' last sequences and updates those key documents in the
//! same transaction (100 keys per transaction, and one), beside what staging cost before that
//! design, measured the same way in the same run: the same rows written with one `insert_many`
//! in a transaction, numbered by the clock alone, with the outbox's indexes.

use std::time::Instant;

use chrono::Utc;
use mongodb::bson::{Binary, Document, doc, spec::BinarySubtype};
use serde_json::{Value, json};
use tidings_core::Envelope;
use tidings_mongodb::{MongoBackend, Names};
use tidings_testkit::unique;
use tidings_uow::UnitOfWork;

use crate::fixture;

const PER_TRANSACTION: u64 = 100;

fn events(from: u64, one_key: bool) -> Vec<Envelope> {
    (from..from + PER_TRANSACTION)
        .map(|n| {
            let mut envelope = fixture::envelope("bench", n);
            if one_key {
                envelope.key = "key-hot".to_owned();
            }
            envelope
        })
        .collect()
}

async fn through_unit_of_work(backend: &MongoBackend, transactions: u64, one_key: bool) -> f64 {
    let uow = UnitOfWork::new(backend.clone());
    let base = if one_key { 10_000_000 } else { 0 };
    let started = Instant::now();
    for t in 0..transactions {
        let batch = events(base + t * PER_TRANSACTION, one_key);
        uow.run(async |work| {
            for envelope in batch {
                work.stage_envelope(envelope)?;
            }
            Ok::<_, tidings_core::Error>(())
        })
        .await
        .expect("stage");
    }
    (transactions * PER_TRANSACTION) as f64 / started.elapsed().as_secs_f64()
}

/// An outbox row as the MongoDB adapter writes it, numbered by the clock.
fn row(envelope: &Envelope, sequence: i64) -> Document {
    let now = mongodb::bson::DateTime::now();
    doc! {
        "_id": envelope.id.as_str(), "sequence": sequence, "topic": &envelope.topic,
        "partition_key": &envelope.key, "message_type": &envelope.message_type,
        "source": &envelope.source, "event_time": envelope.time.to_rfc3339(),
        "subject": null, "data_schema": null, "content_type": &envelope.content_type,
        "extensions": {},
        "payload": Binary { subtype: BinarySubtype::Generic, bytes: envelope.payload.clone() },
        "correlation_id": envelope.correlation_id.clone(), "causation_id": null,
        "traceparent": null, "status": "pending", "attempts": 0_i32, "last_error": null,
        "next_attempt_at": now, "created_at": now,
    }
}

async fn insert_many_only(backend: &MongoBackend, database: &str, transactions: u64) -> f64 {
    let outbox = backend
        .client()
        .database(database)
        .collection::<Document>("old_outbox");
    for (keys, name) in [
        (doc! { "status": 1, "sequence": 1 }, "by_status"),
        (doc! { "status": 1, "published_at": 1 }, "published"),
    ] {
        let options = mongodb::options::IndexOptions::builder()
            .name(name.to_owned())
            .build();
        let index = mongodb::IndexModel::builder()
            .keys(keys)
            .options(options)
            .build();
        outbox.create_index(index).await.expect("index");
    }
    let started = Instant::now();
    for t in 0..transactions {
        let clock = Utc::now().timestamp_micros() * 1000;
        let rows: Vec<Document> = events(20_000_000 + t * PER_TRANSACTION, false)
            .iter()
            .zip(clock..)
            .map(|(envelope, sequence)| row(envelope, sequence))
            .collect();
        let mut session = backend.client().start_session().await.expect("session");
        session.start_transaction().await.expect("begin");
        outbox
            .insert_many(rows)
            .session(&mut session)
            .await
            .expect("insert");
        session.commit_transaction().await.expect("commit");
    }
    (transactions * PER_TRANSACTION) as f64 / started.elapsed().as_secs_f64()
}

/// The figures, as JSON, in events per second.
pub(crate) async fn staging_figures(mongo_url: &str, transactions: u64) -> Value {
    let database = unique("bench").replace('-', "_");
    let backend = MongoBackend::connect(mongo_url)
        .await
        .expect("MONGODB_URL")
        .with_names(Names::in_database(&database).expect("database name"));
    backend.migrate().await.expect("migrate");
    // Warm up the connection and the collections.
    through_unit_of_work(&backend, 2, false).await;
    let spread = through_unit_of_work(&backend, transactions, false).await;
    let one_key = through_unit_of_work(&backend, transactions, true).await;
    let old = insert_many_only(&backend, &database, transactions).await;
    backend
        .client()
        .database(&database)
        .drop()
        .await
        .expect("drop the bench database");
    json!({
        "events_per_transaction": PER_TRANSACTION,
        "transactions": transactions,
        "uow_100_keys_per_tx_events_per_s": spread,
        "uow_one_key_per_tx_events_per_s": one_key,
        "insert_many_only_clock_sequences_events_per_s": old,
    })
}
