//! The shared conformance suite against a real DynamoDB-protocol server
//! (`AWS_ENDPOINT_URL_DYNAMODB`), with tables of their own per case.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, Select,
};
use tidings_core::{
    Result,
    conformance::{self, Capabilities, MarkerStore},
};
use tidings_uow::ConformanceHarness;

use crate::{
    DynamoBackend, DynamoTransaction, Tables,
    error::{classify, request_build},
    item::s,
};

/// The suite's stand-in for a handler's own table, beside the Tidings tables.
pub(crate) fn marker_table(backend: &DynamoBackend) -> String {
    format!("{}_markers", backend.tables().outbox())
}

pub(crate) async fn create_marker_table(backend: &DynamoBackend) -> Result<()> {
    let element = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(request_build)
    };
    let definition = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(request_build)
    };
    backend
        .client()
        .create_table()
        .table_name(marker_table(backend))
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(element("marker", KeyType::Hash)?)
        .key_schema(element("id", KeyType::Range)?)
        .attribute_definitions(definition("marker")?)
        .attribute_definitions(definition("id")?)
        .send()
        .await
        .map_err(|e| classify("CreateTable", e))?;
    Ok(())
}

impl MarkerStore for DynamoBackend {
    async fn write_marker(&self, transaction: &mut DynamoTransaction, marker: &str) -> Result<()> {
        let item = [
            ("marker".to_owned(), s(marker)),
            ("id".to_owned(), s(uuid::Uuid::now_v7().to_string())),
        ];
        transaction.put(marker_table(self), item.into())?;
        Ok(())
    }

    async fn count_markers(&self, marker: &str) -> Result<u64> {
        let counted = self
            .client()
            .query()
            .table_name(marker_table(self))
            .key_condition_expression("#m = :m")
            .expression_attribute_names("#m", "marker")
            .expression_attribute_values(":m", s(marker))
            .consistent_read(true)
            .select(Select::Count)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        Ok(u64::try_from(counted.count()).unwrap_or(0))
    }

    async fn reconnect(&self) -> Result<Self> {
        Ok(DynamoBackend::from_env()
            .await
            .with_tables(self.tables().clone()))
    }

    fn with_clock_skew(self, offset: chrono::TimeDelta) -> Option<Self> {
        Some(DynamoBackend::with_clock_skew(self, offset))
    }
}

/// A backend on fresh tables named after `prefix`.
pub(crate) async fn fresh_backend(prefix: &str) -> DynamoBackend {
    let backend = DynamoBackend::from_env()
        .await
        .with_tables(Tables::prefixed(prefix).expect("valid table prefix"));
    backend.create_tables().await.expect("create tables");
    create_marker_table(&backend)
        .await
        .expect("create marker table");
    backend
}

pub(crate) async fn drop_backend(backend: &DynamoBackend) {
    backend.delete_tables().await.expect("delete tables");
    backend
        .client()
        .delete_table()
        .table_name(marker_table(backend))
        .send()
        .await
        .expect("delete marker table");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite() {
    if conformance::server_from_env("AWS_ENDPOINT_URL_DYNAMODB").is_none() {
        return;
    }
    let backends: Arc<Mutex<Vec<DynamoBackend>>> = Arc::default();
    conformance::run_suite(async || {
        let backend = fresh_backend(&conformance::unique("t")).await;
        backends.lock().expect("lock").push(backend.clone());
        ConformanceHarness::new(backend, Capabilities::full())
    })
    .await;
    let backends = std::mem::take(&mut *backends.lock().expect("lock"));
    for backend in &backends {
        drop_backend(backend).await;
    }
}
