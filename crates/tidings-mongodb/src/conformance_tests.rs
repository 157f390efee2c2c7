//! The shared conformance suite against a real MongoDB-protocol server (`MONGODB_URL`), in a
//! fresh database per case.

use std::sync::{Arc, Mutex};

use mongodb::{Client, bson::doc};
use tidings_core::{
    Result,
    conformance::{self, Capabilities, MarkerStore},
};
use tidings_uow::ConformanceHarness;

use crate::{MongoBackend, MongoTransaction, Names, error::classify};

impl MongoBackend {
    fn markers(&self) -> mongodb::Collection<mongodb::bson::Document> {
        self.client()
            .database(self.names().database())
            .collection("markers")
    }
}

impl MarkerStore for MongoBackend {
    async fn write_marker(&self, transaction: &mut MongoTransaction, marker: &str) -> Result<()> {
        self.markers()
            .insert_one(doc! { "marker": marker })
            .session(transaction.session())
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn count_markers(&self, marker: &str) -> Result<u64> {
        self.markers()
            .count_documents(doc! { "marker": marker })
            .await
            .map_err(classify)
    }

    async fn reconnect(&self) -> Result<Self> {
        let url = std::env::var("MONGODB_URL").expect("MONGODB_URL");
        let client = Client::with_uri_str(&url).await.map_err(classify)?;
        Ok(Self::from_client(client).with_names(self.names().clone()))
    }

    fn with_clock_skew(self, offset: chrono::TimeDelta) -> Option<Self> {
        Some(MongoBackend::with_clock_skew(self, offset))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite() {
    let Some(url) = conformance::server_from_env("MONGODB_URL") else {
        return;
    };
    let databases: Arc<Mutex<Vec<String>>> = Arc::default();
    conformance::run_suite(async || {
        let database = conformance::unique("t").replace('-', "_");
        databases.lock().expect("lock").push(database.clone());
        let backend = MongoBackend::connect(&url)
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
        ConformanceHarness::new(backend, Capabilities::full())
    })
    .await;
    let cleanup = Client::with_uri_str(&url).await.expect("connect");
    let databases = std::mem::take(&mut *databases.lock().expect("lock"));
    for database in &databases {
        cleanup
            .database(database)
            .drop()
            .await
            .expect("drop test database");
    }
}
