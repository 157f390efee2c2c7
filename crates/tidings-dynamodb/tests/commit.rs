//! What is particular to DynamoDB's commit, against the server at `AWS_ENDPOINT_URL_DYNAMODB`:
//! the limits checked before the call, cancellation reasons named by item, duplicates found at
//! commit. That sequences follow commit order when another host's clock runs ahead is a case
//! of the shared conformance suite.

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem};
use chrono::Utc;
mod common;

use tidings_core::{
    Error, InboxClaim, InboxRepository, MessageId, OutboxRepository, Transactional,
};
use tidings_dynamodb::{DynamoBackend, DynamoError};
use tidings_testkit::{self as conformance, conformance::event};
use tidings_uow::{UnitOfWork, UnitOfWorkError};

use common::{drop_backend, fresh_backend, marker_table};

type DynamoUnitOfWork = UnitOfWork<DynamoBackend>;

async fn backend() -> Option<DynamoBackend> {
    conformance::server_from_env("AWS_ENDPOINT_URL_DYNAMODB")?;
    Some(fresh_backend(&conformance::unique_ident("c")).await)
}

/// The DynamoDB error of a failed unit of work: from the commit, or from a write the handler
/// added (which the handler passed on with `?`).
fn dynamo_error(error: &UnitOfWorkError<Error>) -> &DynamoError {
    match error {
        UnitOfWorkError::Tidings(e) | UnitOfWorkError::Handler(e) => {
            DynamoError::find(e).expect("a DynamoDB error")
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
}

async fn pending(backend: &DynamoBackend) -> u64 {
    backend.stats().await.expect("stats").pending
}

#[tokio::test]
async fn limits_are_checked_before_the_call_and_nothing_is_written() {
    let Some(backend) = backend().await else {
        return;
    };
    let uow = DynamoUnitOfWork::new(backend.clone());
    let topic = conformance::unique("limits");

    // 99 events of 99 keys need 198 items.
    let too_many = uow
        .run(async |work| {
            for k in 0..99 {
                work.stage_envelope(event(&topic, &format!("k{k}"), "x"))?;
            }
            Ok::<_, Error>(())
        })
        .await
        .expect_err("a transaction of 198 items");
    match dynamo_error(&too_many) {
        DynamoError::TooManyItems {
            items,
            events,
            keys,
            ..
        } => assert_eq!((*items, *events, *keys), (198, 99, 99)),
        other => panic!("{other}"),
    }

    // One item over 400 KB is refused when it is added.
    let big = AttributeValue::B(vec![7; 410 * 1024].into());
    let too_big = uow
        .run(async |work| {
            work.transaction().put(
                marker_table(&backend),
                [
                    ("marker".to_owned(), AttributeValue::S("m".to_owned())),
                    ("id".to_owned(), AttributeValue::S("big".to_owned())),
                    ("blob".to_owned(), big.clone()),
                ]
                .into(),
            )?;
            Ok::<_, Error>(())
        })
        .await
        .expect_err("an item over 400 KB");
    assert!(matches!(
        dynamo_error(&too_big),
        DynamoError::ItemTooLarge { .. }
    ));

    // Fifteen items of 300 KB are 4.5 MB.
    let blob = AttributeValue::B(vec![7; 300 * 1024].into());
    let too_large = uow
        .run(async |work| {
            for i in 0..15 {
                work.transaction().put(
                    marker_table(&backend),
                    [
                        ("marker".to_owned(), AttributeValue::S("m".to_owned())),
                        ("id".to_owned(), AttributeValue::S(format!("{i}"))),
                        ("blob".to_owned(), blob.clone()),
                    ]
                    .into(),
                )?;
            }
            work.stage_envelope(event(&topic, "k", "x"))?;
            Ok::<_, Error>(())
        })
        .await
        .expect_err("a transaction over 4 MB");
    assert!(
        matches!(dynamo_error(&too_large), DynamoError::TransactionTooLarge { bytes } if *bytes > 4_500_000),
        "{too_large}"
    );
    assert_eq!(
        pending(&backend).await,
        0,
        "a refused unit of work left rows"
    );
    drop_backend(&backend).await;
}

#[tokio::test]
async fn a_refused_handler_write_is_named_with_its_reason() {
    let Some(backend) = backend().await else {
        return;
    };
    let uow = DynamoUnitOfWork::new(backend.clone());
    let topic = conformance::unique("cancel");
    let check = ConditionCheck::builder()
        .table_name(marker_table(&backend))
        .key("marker", AttributeValue::S("order-1".to_owned()))
        .key("id", AttributeValue::S("v1".to_owned()))
        .condition_expression("attribute_exists(marker)")
        .build()
        .expect("condition check");
    let refused = uow
        .run(async |work| {
            work.transaction().push(
                TransactWriteItem::builder()
                    .condition_check(check.clone())
                    .build(),
            )?;
            work.stage_envelope(event(&topic, "order-1", "placed"))?;
            Ok::<_, Error>(())
        })
        .await
        .expect_err("the condition does not hold");
    let DynamoError::Cancelled { reasons } = dynamo_error(&refused) else {
        panic!("{refused}")
    };
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0].index, 0);
    assert_eq!(reasons[0].code, "ConditionalCheckFailed");
    assert!(
        reasons[0]
            .item
            .starts_with("handler write #0 (ConditionCheck on "),
        "{}",
        reasons[0].item
    );
    assert!(
        refused.to_string().contains("handler write #0"),
        "{refused}"
    );
    assert_eq!(
        pending(&backend).await,
        0,
        "the event of a refused commit was written"
    );
    drop_backend(&backend).await;
}

#[tokio::test]
async fn a_claim_found_taken_at_commit_is_already_applied() {
    let Some(backend) = backend().await else {
        return;
    };
    let id = MessageId::new();
    let topic = conformance::unique("dup");
    let mut first = backend.begin().await.expect("begin");
    let mut second = backend.begin().await.expect("begin");
    for (tx, label) in [(&mut first, "first"), (&mut second, "second")] {
        let claim = backend
            .claim_message(tx, "billing", &id, Utc::now())
            .await
            .expect("claim");
        assert_eq!(claim, InboxClaim::Fresh, "neither has committed yet");
        backend
            .stage(tx, &[event(&topic, "k", label)])
            .await
            .expect("stage");
    }
    backend.commit(first).await.expect("first commit");
    match backend.commit(second).await {
        Err(Error::AlreadyApplied {
            consumer,
            id: found,
        }) => {
            assert_eq!((consumer.as_str(), &found), ("billing", &id));
        }
        other => panic!("the second commit gave {other:?}"),
    }
    assert_eq!(
        pending(&backend).await,
        1,
        "the duplicate's event was written"
    );
    drop_backend(&backend).await;
}
