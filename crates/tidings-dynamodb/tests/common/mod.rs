//! Tables of a test's own on the server at `AWS_ENDPOINT_URL_DYNAMODB`: the Tidings tables
//! and a marker table, the suite's stand-in for a handler's own table.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use tidings_dynamodb::{DynamoBackend, Tables};

/// The marker table beside the Tidings tables.
pub(crate) fn marker_table(backend: &DynamoBackend) -> String {
    format!("{}_markers", backend.tables().outbox())
}

async fn create_marker_table(backend: &DynamoBackend) {
    let element = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("key schema")
    };
    let definition = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition")
    };
    backend
        .client()
        .create_table()
        .table_name(marker_table(backend))
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(element("marker", KeyType::Hash))
        .key_schema(element("id", KeyType::Range))
        .attribute_definitions(definition("marker"))
        .attribute_definitions(definition("id"))
        .send()
        .await
        .expect("create the marker table");
}

/// A backend on fresh tables named after `prefix`.
pub(crate) async fn fresh_backend(prefix: &str) -> DynamoBackend {
    let backend = DynamoBackend::from_env()
        .await
        .with_tables(Tables::prefixed(prefix).expect("valid table prefix"));
    backend.create_tables().await.expect("create tables");
    create_marker_table(&backend).await;
    backend
}

/// Deletes what [`fresh_backend`] made.
pub(crate) async fn drop_backend(backend: &DynamoBackend) {
    backend.delete_tables().await.expect("delete tables");
    backend
        .client()
        .delete_table()
        .table_name(marker_table(backend))
        .send()
        .await
        .expect("delete the marker table");
}
