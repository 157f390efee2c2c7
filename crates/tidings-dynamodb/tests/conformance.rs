//! The shared conformance suite against a real DynamoDB-protocol server
//! (`AWS_ENDPOINT_URL_DYNAMODB`), with tables of their own per case. Each case is a named test:
//! `cargo test -p tidings-dynamodb --test conformance late_commit`.

mod common;

use std::process::ExitCode;

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use tidings_core::{Error, Result};
use tidings_dynamodb::{DynamoBackend, DynamoTransaction};
use tidings_testkit::{Capabilities, MarkerStore, Suite, unique_ident};

use common::{drop_backend, fresh_backend, marker_table};

#[derive(Clone)]
struct Dynamo(DynamoBackend);

impl MarkerStore for Dynamo {
    type Backend = DynamoBackend;

    fn backend(&self) -> &DynamoBackend {
        &self.0
    }

    fn capabilities() -> Capabilities {
        Capabilities::new()
    }

    async fn write_marker(&self, transaction: &mut DynamoTransaction, marker: &str) -> Result<()> {
        let item = [
            ("marker".to_owned(), AttributeValue::S(marker.to_owned())),
            (
                "id".to_owned(),
                AttributeValue::S(uuid::Uuid::now_v7().to_string()),
            ),
        ];
        transaction.put(marker_table(&self.0), item.into())?;
        Ok(())
    }

    async fn count_markers(&self, marker: &str) -> Result<u64> {
        let counted = self
            .0
            .client()
            .query()
            .table_name(marker_table(&self.0))
            .key_condition_expression("#m = :m")
            .expression_attribute_names("#m", "marker")
            .expression_attribute_values(":m", AttributeValue::S(marker.to_owned()))
            .consistent_read(true)
            .select(Select::Count)
            .send()
            .await
            .map_err(Error::backend)?;
        Ok(u64::try_from(counted.count()).unwrap_or(0))
    }

    async fn reconnect(&self) -> Result<Self> {
        Ok(Self(
            DynamoBackend::from_env()
                .await
                .with_tables(self.0.tables().clone()),
        ))
    }

    fn with_clock_skew(self, offset: chrono::TimeDelta) -> Option<Self> {
        Some(Self(self.0.with_clock_skew(offset)))
    }

    async fn clean_up(self) {
        drop_backend(&self.0).await;
    }
}

fn main() -> ExitCode {
    Suite::new()
        .requires("AWS_ENDPOINT_URL_DYNAMODB")
        .conformance(fresh)
        .run()
}

async fn fresh() -> Dynamo {
    Dynamo(fresh_backend(&unique_ident("t")).await)
}
