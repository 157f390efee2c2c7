//! The commit's idempotency tokens, with DynamoDB's answers scripted (moto ignores the token,
//! so a server cannot show this): a commit whose outcome is unknown is sent again with the same
//! token, which DynamoDB applies at most once; a cancelled commit, which applied nothing, is
//! sent again with a new one.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::{
    Client,
    operation::transact_write_items::{TransactWriteItemsError, TransactWriteItemsOutput},
    types::{CancellationReason, error::TransactionCanceledException},
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use tidings_core::{OutboxRepository, Transactional};
use tidings_testkit::conformance::event;

use crate::DynamoBackend;

/// Commits one staged event through a client whose `TransactWriteItems` answers `first`,
/// then succeeds; returns the token of every request sent.
async fn tokens_of_a_commit(first: TransactWriteItemsAnswer) -> Vec<String> {
    let tokens: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = Arc::clone(&tokens);
    let sequence = mock!(Client::transact_write_items)
        .match_requests(move |request| {
            let token = request.client_request_token().unwrap_or_default();
            seen.lock().expect("lock").push(token.to_owned());
            true
        })
        .sequence();
    let sequence = match first {
        TransactWriteItemsAnswer::ServerError => sequence.http_status(500, None),
        TransactWriteItemsAnswer::Conflict => sequence.error(|| {
            TransactWriteItemsError::TransactionCanceledException(
                TransactionCanceledException::builder()
                    .cancellation_reasons(
                        CancellationReason::builder()
                            .code("TransactionConflict")
                            .build(),
                    )
                    .cancellation_reasons(CancellationReason::builder().code("None").build())
                    .build(),
            )
        }),
    };
    let rule = sequence
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, &[&rule]);
    let backend = DynamoBackend::new(client);
    let mut transaction = backend.begin().await.expect("begin");
    backend
        .stage(&mut transaction, &[event("orders", "order-1", "placed")])
        .await
        .expect("stage");
    backend.commit(transaction).await.expect("commit");
    assert_eq!(
        rule.num_calls(),
        2,
        "one failed send and one that succeeded"
    );
    tokens.lock().expect("lock").clone()
}

enum TransactWriteItemsAnswer {
    ServerError,
    Conflict,
}

#[tokio::test]
async fn an_unknown_outcome_is_sent_again_with_the_same_token() {
    let tokens = tokens_of_a_commit(TransactWriteItemsAnswer::ServerError).await;
    assert!(tokens.len() >= 2, "{tokens:?}");
    assert!(!tokens[0].is_empty(), "the commit carries no token");
    assert!(
        tokens.iter().all(|token| *token == tokens[0]),
        "a resend after an unknown outcome changed the token: {tokens:?}"
    );
}

#[tokio::test]
async fn a_cancelled_commit_is_sent_again_with_a_new_token() {
    let tokens = tokens_of_a_commit(TransactWriteItemsAnswer::Conflict).await;
    assert!(tokens.len() >= 2, "{tokens:?}");
    assert_ne!(
        tokens.first(),
        tokens.last(),
        "a resend after a cancellation reused the token of a different request"
    );
}
