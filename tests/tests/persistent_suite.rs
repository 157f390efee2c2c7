//! The persistent publisher's rules (the shared suite of `tidings-testkit`) with the PostgreSQL
//! and MongoDB stores, sending to Kafka (Tansu). Each case is a named test, once per store:
//! `cargo test -p tidings-tests --test persistent_suite postgres::republish`.

use std::process::ExitCode;

use tidings::{
    Envelope, EventPublisher, PublishOutcome,
    kafka::KafkaConfig,
    mongodb::{MongoBackend, MongoEventStore, Names},
    postgres::{PostgresEventStore, Schema},
};
use tidings_testkit::{Suite, unique_ident};
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

fn main() -> ExitCode {
    Suite::new()
        .requires("KAFKA_BOOTSTRAP_SERVERS")
        .requires("DATABASE_URL")
        .requires("MONGODB_URL")
        .prefixed("postgres")
        .persistent(postgres_store, drop_postgres_store)
        .prefixed("mongodb")
        .persistent(mongodb_store, drop_mongodb_store)
        .run()
}
