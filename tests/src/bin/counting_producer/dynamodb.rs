//! Counters as items of a table `<TARGET>_counters`, beside the outbox tables of prefix TARGET,
//! at `AWS_ENDPOINT_URL_DYNAMODB`. DynamoDB has no locks: a unit of work reads the counter and
//! writes the next value on the condition that nobody wrote it in between, and runs again when
//! somebody did.

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    Client,
    types::{
        AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
        ScalarAttributeType, TransactWriteItem, Update,
    },
};
use tidings::{
    BoxError, UnitOfWorkError,
    dynamodb::{DynamoBackend, DynamoError, DynamoUnitOfWork, Tables},
};
use tidings_tests::Step;

use super::{COUNTERS, Counts, any_key, note, until_committed};

async fn connect(prefix: &str) -> Result<DynamoBackend, BoxError> {
    Ok(DynamoBackend::from_env()
        .await
        .with_tables(Tables::prefixed(prefix)?))
}

fn counters(prefix: &str) -> String {
    format!("{prefix}_{COUNTERS}")
}

pub(crate) async fn setup(prefix: &str) -> Result<(), BoxError> {
    let backend = connect(prefix).await?;
    backend.create_tables().await?;
    backend
        .client()
        .create_table()
        .table_name(counters(prefix))
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("key")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("key")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

pub(crate) async fn drop(prefix: &str) -> Result<(), BoxError> {
    let backend = connect(prefix).await?;
    backend.delete_tables().await?;
    backend
        .client()
        .delete_table()
        .table_name(counters(prefix))
        .send()
        .await?;
    Ok(())
}

pub(crate) async fn count(
    prefix: &str,
    topic: &str,
    keys: u32,
    units: u32,
) -> Result<Counts, BoxError> {
    let backend = connect(prefix).await?;
    let client = backend.client().clone();
    let uow = DynamoUnitOfWork::new(backend);
    let table = counters(prefix);
    let mut counts = Counts::new();
    for _ in 0..units {
        let key = any_key(keys);
        let unit = || count_once(&uow, &client, &table, &key, topic);
        let n = until_committed(unit, is_conflict).await?;
        note(&mut counts, key, n);
    }
    Ok(counts)
}

async fn count_once(
    uow: &DynamoUnitOfWork,
    client: &Client,
    table: &str,
    key: &str,
    topic: &str,
) -> Result<u32, UnitOfWorkError<BoxError>> {
    uow.run(async |work| {
        let old = read_counter(client, table, key).await?;
        let n = old + 1;
        work.transaction().push(bump(table, key, old)?)?;
        work.stage(&Step::new(key, n, topic))?;
        Ok::<_, BoxError>(n)
    })
    .await
}

/// The counter's value, 0 before its first unit of work.
async fn read_counter(client: &Client, table: &str, key: &str) -> Result<u32, BoxError> {
    let item = client
        .get_item()
        .table_name(table)
        .key("key", AttributeValue::S(key.to_owned()))
        .consistent_read(true)
        .send()
        .await?;
    match item.item().and_then(|item| item.get("n")) {
        None => Ok(0),
        Some(AttributeValue::N(n)) => Ok(n.parse()?),
        Some(other) => Err(format!("counter {key}: {other:?}").into()),
    }
}

/// Sets the counter to `old + 1` if it still holds `old`.
fn bump(table: &str, key: &str, old: u32) -> Result<TransactWriteItem, BoxError> {
    let mut values = HashMap::from([(":new".to_owned(), AttributeValue::N((old + 1).to_string()))]);
    let condition = if old == 0 {
        "attribute_not_exists(n)"
    } else {
        values.insert(":old".to_owned(), AttributeValue::N(old.to_string()));
        "n = :old"
    };
    let update = Update::builder()
        .table_name(table)
        .key("key", AttributeValue::S(key.to_owned()))
        .update_expression("SET n = :new")
        .condition_expression(condition)
        .set_expression_attribute_values(Some(values))
        .build()?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Another writer bumped the counter first (the handler's condition failed), or DynamoDB asks
/// for the transaction to be run again.
fn is_conflict(error: &UnitOfWorkError<BoxError>) -> bool {
    let UnitOfWorkError::Tidings(error) = error else {
        return false;
    };
    let counter_taken = matches!(
        DynamoError::find(error),
        Some(DynamoError::Cancelled { reasons })
            if reasons.iter().any(|r| r.code == "ConditionalCheckFailed")
    );
    counter_taken || error.is_transient()
}
