//! The shared conformance suite against a real MongoDB-protocol server (`MONGODB_URL`), in a
//! fresh database per case. Each case is a named test:
//! `cargo test -p tidings-mongodb --test conformance late_commit`.

use std::process::ExitCode;

use mongodb::{Client, bson::doc};
use tidings_core::{Error, Result};
use tidings_mongodb::{MongoBackend, MongoTransaction, Names};
use tidings_testkit::{Capabilities, MarkerStore, Suite, unique_ident};

fn driver(error: mongodb::error::Error) -> Error {
    Error::backend(error)
}

fn markers(backend: &MongoBackend) -> mongodb::Collection<mongodb::bson::Document> {
    backend
        .client()
        .database(backend.names().database())
        .collection("markers")
}

fn url() -> String {
    std::env::var("MONGODB_URL").expect("checked by Suite::requires")
}

#[derive(Clone)]
struct Mongo(MongoBackend);

impl MarkerStore for Mongo {
    type Backend = MongoBackend;

    fn backend(&self) -> &MongoBackend {
        &self.0
    }

    fn capabilities() -> Capabilities {
        Capabilities::new().waking_across_processes()
    }

    async fn write_marker(&self, transaction: &mut MongoTransaction, marker: &str) -> Result<()> {
        markers(&self.0)
            .insert_one(doc! { "marker": marker })
            .session(transaction.session())
            .await
            .map_err(driver)?;
        Ok(())
    }

    async fn count_markers(&self, marker: &str) -> Result<u64> {
        markers(&self.0)
            .count_documents(doc! { "marker": marker })
            .await
            .map_err(driver)
    }

    async fn reconnect(&self) -> Result<Self> {
        let client = Client::with_uri_str(url()).await.map_err(driver)?;
        Ok(Self(
            MongoBackend::from_client(client).with_names(self.0.names().clone()),
        ))
    }

    fn with_clock_skew(self, offset: chrono::TimeDelta) -> Option<Self> {
        Some(Self(self.0.with_clock_skew(offset)))
    }

    async fn clean_up(self) {
        self.0
            .client()
            .database(self.0.names().database())
            .drop()
            .await
            .expect("drop the case's database");
    }
}

async fn fresh() -> Mongo {
    let database = unique_ident("t");
    let backend = MongoBackend::connect(&url())
        .await
        .expect("connect to MONGODB_URL")
        .with_names(Names::in_database(&database).expect("valid database name"));
    backend.migrate().await.expect("migrate");
    backend
        .client()
        .database(&database)
        .create_collection("markers")
        .await
        .expect("create marker collection");
    Mongo(backend)
}

fn main() -> ExitCode {
    Suite::new()
        .requires("MONGODB_URL")
        .conformance(fresh)
        .run()
}
