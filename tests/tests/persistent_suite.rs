//! The persistent publisher's rules (the shared suite of `tidings-testkit`) with the PostgreSQL,
//! MongoDB and DynamoDB stores, sending to Kafka (Tansu). Each case is a named test, once per store:
//! `cargo test -p tidings-tests --test persistent_suite postgres::republish`.

use std::{process::ExitCode, sync::Arc};

use aws_sdk_dynamodb::types::AttributeValue;

use tidings::{
    Envelope, EventPublisher, PublishOutcome,
    dynamodb::{DynamoBackend, DynamoEventStore},
    kafka::KafkaConfig,
    mongodb::{MongoBackend, MongoEventStore, Names},
    postgres::{PostgresEventStore, Schema},
};
use tidings_testkit::{Suite, persistent::JsonProbe, unique_ident};
use tidings_tests::CreatingTopics;

fn env(var: &str) -> String {
    std::env::var(var).expect("checked by Suite::requires")
}

fn kafka() -> KafkaConfig {
    KafkaConfig::new(env("KAFKA_BOOTSTRAP_SERVERS"))
}

/// The case's publisher, carrying the name of what the case made in the database.
#[derive(Clone)]
struct Case {
    publisher: CreatingTopics,
    made: String,
}

impl EventPublisher for Case {
    async fn publish_batch(&self, envelopes: &[Envelope]) -> PublishOutcome {
        self.publisher.publish_batch(envelopes).await
    }
}

fn case(made: String) -> Case {
    Case {
        publisher: CreatingTopics::new(&kafka()),
        made,
    }
}

async fn postgres_store() -> (PostgresEventStore, Case) {
    let pool = sqlx::PgPool::connect(&env("DATABASE_URL"))
        .await
        .expect("connect to DATABASE_URL");
    let schema = unique_ident("p");
    let store = PostgresEventStore::new(pool, &Schema::in_schema(&schema).expect("valid schema"));
    store.migrate().await.expect("migrate");
    (store, case(schema))
}

async fn drop_postgres_store(_: PostgresEventStore, case: Case) {
    let pool = sqlx::PgPool::connect(&env("DATABASE_URL"))
        .await
        .expect("connect to DATABASE_URL");
    sqlx::query(&format!("DROP SCHEMA \"{}\" CASCADE", case.made))
        .execute(&pool)
        .await
        .expect("drop the case's schema");
    case.publisher.delete_topics().await;
}

async fn mongodb_store() -> (MongoEventStore, Case) {
    let backend = MongoBackend::connect(&env("MONGODB_URL"))
        .await
        .expect("connect to MONGODB_URL");
    let database = unique_ident("p");
    let names = Names::in_database(&database).expect("valid name");
    // The collection hexkit's persistent publisher uses for service `abc`.
    let store = MongoEventStore::for_service(backend.client().clone(), &names, "abc")
        .expect("a valid collection");
    assert_eq!(store.collection(), "abcPersistedEvents");
    store.migrate().await.expect("migrate");
    (store, case(database))
}

async fn drop_mongodb_store(_: MongoEventStore, case: Case) {
    let backend = MongoBackend::connect(&env("MONGODB_URL"))
        .await
        .expect("connect to MONGODB_URL");
    backend
        .client()
        .database(&case.made)
        .drop()
        .await
        .expect("drop the case's database");
    case.publisher.delete_topics().await;
}

/// The JSONB column of a copy.
fn postgres_probe() -> JsonProbe<PostgresEventStore> {
    Arc::new(|store, storage_id| {
        Box::pin(async move {
            let pool = sqlx::PgPool::connect(&env("DATABASE_URL"))
                .await
                .expect("connect");
            let sql = format!(
                "SELECT payload_json FROM {} WHERE storage_id = $1",
                store.table()
            );
            let json: Option<serde_json::Value> = sqlx::query_scalar(&sql)
                .bind(storage_id)
                .fetch_one(&pool)
                .await
                .expect("read the copy");
            json
        })
    })
}

/// The `payload` field of a copy, unless it is binary.
fn mongodb_probe() -> JsonProbe<MongoEventStore> {
    Arc::new(|store, storage_id| {
        Box::pin(async move {
            let backend = MongoBackend::connect(&env("MONGODB_URL"))
                .await
                .expect("connect");
            let collection = backend
                .client()
                .database(&store.database())
                .collection::<mongodb::bson::Document>(store.collection());
            let copy = collection
                .find_one(mongodb::bson::doc! { "_id": storage_id })
                .await
                .expect("read the copy")
                .expect("a copy");
            match copy.get("payload").expect("a payload") {
                mongodb::bson::Bson::Binary(_) => None,
                json => Some(json.clone().into_relaxed_extjson()),
            }
        })
    })
}

/// The `payload` attribute of a copy, unless it is binary.
fn dynamodb_probe() -> JsonProbe<DynamoEventStore> {
    Arc::new(|store, storage_id| {
        Box::pin(async move {
            let backend = DynamoBackend::from_env().await;
            let item = backend
                .client()
                .get_item()
                .table_name(store.table())
                .key("storage_id", AttributeValue::S(storage_id))
                .send()
                .await
                .expect("read the copy")
                .item
                .expect("a copy");
            match item.get("payload").expect("a payload") {
                AttributeValue::B(_) => None,
                json => Some(attribute_json(json)),
            }
        })
    })
}

/// A DynamoDB attribute as JSON, read here without the adapter's own conversion.
fn attribute_json(attribute: &AttributeValue) -> serde_json::Value {
    match attribute {
        AttributeValue::M(fields) => fields
            .iter()
            .map(|(k, v)| (k.clone(), attribute_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        AttributeValue::L(items) => items.iter().map(attribute_json).collect(),
        AttributeValue::S(text) => text.clone().into(),
        AttributeValue::N(number) => serde_json::from_str(number).expect("a number"),
        AttributeValue::Bool(b) => (*b).into(),
        AttributeValue::Null(_) => serde_json::Value::Null,
        other => panic!("not JSON: {other:?}"),
    }
}

async fn dynamodb_store() -> (DynamoEventStore, Case) {
    let backend = DynamoBackend::from_env().await;
    let table = unique_ident("p");
    let store = DynamoEventStore::new(backend.client().clone())
        .with_table(&table)
        .expect("a valid table");
    store.create_table().await.expect("create the table");
    (store, case(table))
}

async fn drop_dynamodb_store(store: DynamoEventStore, case: Case) {
    store.delete_table().await.expect("delete the table");
    case.publisher.delete_topics().await;
}

fn main() -> ExitCode {
    Suite::new()
        .requires("KAFKA_BOOTSTRAP_SERVERS")
        .requires("DATABASE_URL")
        .requires("MONGODB_URL")
        .requires("AWS_ENDPOINT_URL_DYNAMODB")
        .prefixed("postgres")
        .persistent_with_probe(postgres_store, drop_postgres_store, Some(postgres_probe()))
        .prefixed("mongodb")
        .persistent_with_probe(mongodb_store, drop_mongodb_store, Some(mongodb_probe()))
        .prefixed("dynamodb")
        .persistent_with_probe(dynamodb_store, drop_dynamodb_store, Some(dynamodb_probe()))
        .run()
}
