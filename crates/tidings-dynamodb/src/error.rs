use std::fmt;

use aws_sdk_dynamodb::{
    config::http::HttpResponse,
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
};
use tidings_core::Error;

/// Most items in one `TransactWriteItems` call.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// Most bytes in one `TransactWriteItems` call (4 MB, counted as DynamoDB counts item sizes).
pub const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;

/// Most bytes in one item (400 KB).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// What went wrong in DynamoDB. It reaches callers as the source of a [`tidings_core::Error`]
/// ([`Error::Backend`], or [`Error::Unavailable`] when trying again may help); find it with
/// [`DynamoError::find`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DynamoError {
    /// The unit of work needs more items than one transaction holds. Nothing was written.
    #[error(
        "the unit of work writes {items} items ({business} of the handler's, {events} events, \
         {keys} outbox keys, {claims} inbox claims); one DynamoDB transaction holds at most \
         {MAX_TRANSACTION_ITEMS}"
    )]
    TooManyItems {
        /// Items the transaction would hold.
        items: usize,
        /// The handler's own writes.
        business: usize,
        /// Staged events (one outbox row each).
        events: usize,
        /// Distinct partition keys among them (one key item each).
        keys: usize,
        /// Inbox claims.
        claims: usize,
    },
    /// The unit of work writes more bytes than one transaction holds. Nothing was written.
    #[error(
        "the unit of work writes about {bytes} bytes; one DynamoDB transaction holds at most \
         {MAX_TRANSACTION_BYTES}"
    )]
    TransactionTooLarge {
        /// Estimated size of the transaction's items.
        bytes: usize,
    },
    /// One item is larger than DynamoDB stores. Nothing was written.
    #[error("{what} is about {bytes} bytes; a DynamoDB item holds at most {MAX_ITEM_BYTES}")]
    ItemTooLarge {
        /// Which item.
        what: String,
        /// Its estimated size.
        bytes: usize,
    },
    /// DynamoDB cancelled the transaction for a reason the adapter does not resolve itself
    /// (a condition of the handler's own write failed, say). Nothing was written.
    #[error("DynamoDB cancelled the transaction: {}", Reasons(.reasons))]
    Cancelled {
        /// The items that caused the cancellation, with DynamoDB's reasons.
        reasons: Vec<CancelledItem>,
    },
    /// A DynamoDB call failed.
    #[error("DynamoDB {operation} failed: {detail}")]
    Request {
        /// The API call (`TransactWriteItems`, `Query`…).
        operation: &'static str,
        /// DynamoDB's error code, when the service answered.
        code: Option<String>,
        /// The error with its causes.
        detail: String,
    },
}

impl DynamoError {
    /// The DynamoDB error behind `error`, if there is one.
    pub fn find(error: &Error) -> Option<&DynamoError> {
        match error {
            Error::Backend(source) | Error::Unavailable(source) => source.downcast_ref(),
            _ => None,
        }
    }
}

/// One item of a cancelled transaction and why DynamoDB refused it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CancelledItem {
    /// Position of the item in the transaction as sent.
    pub index: usize,
    /// What the item is: `handler write #2 (Put on orders)`, `outbox row of key "k"`…
    pub item: String,
    /// DynamoDB's reason code (`ConditionalCheckFailed`, `TransactionConflict`…).
    pub code: String,
    /// DynamoDB's message, when it gave one.
    pub message: Option<String>,
}

impl fmt::Display for CancelledItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "item {} ({}): {}", self.index, self.item, self.code)?;
        if let Some(message) = &self.message {
            write!(f, " ({message})")?;
        }
        Ok(())
    }
}

struct Reasons<'a>(&'a [CancelledItem]);

impl fmt::Display for Reasons<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, reason) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{reason}")?;
        }
        Ok(())
    }
}

/// Error codes after which the same call may succeed later.
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
    "TransactionConflictException",
];

/// Converts an SDK error: no answer (dispatch, timeout, unreadable response) and throttling or
/// server trouble may go away; anything else will not.
pub(crate) fn classify<E, R>(operation: &'static str, error: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let code = error.code().map(str::to_owned);
    let transient = match &error {
        SdkError::ServiceError(_) => code
            .as_deref()
            .is_some_and(|c| TRANSIENT_CODES.contains(&c)),
        _ => true,
    };
    let error = DynamoError::Request {
        operation,
        code,
        detail: DisplayErrorContext(&error).to_string(),
    };
    if transient {
        Error::unavailable(error)
    } else {
        Error::backend(error)
    }
}

/// Whether the outcome of a call that failed this way is unknown: the request may have been
/// applied. That is so when no answer came back, when the server failed (a 5xx, which
/// DynamoDB documents as "the transaction may have succeeded"), and when a request with the
/// same token is still in progress. A commit sent again after such a failure keeps its
/// idempotency token.
pub(crate) fn outcome_unknown<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    match error {
        SdkError::ServiceError(service) => {
            service.raw().status().is_server_error()
                || error.code() == Some("TransactionInProgressException")
        }
        _ => true,
    }
}

/// An item in a Tidings table does not hold what the adapter wrote.
pub(crate) fn corrupt(table: &'static str, detail: impl Into<String>) -> Error {
    Error::corrupt(format!("DynamoDB {table} item"), detail)
}

pub(crate) fn request_build(error: aws_sdk_dynamodb::error::BuildError) -> Error {
    Error::backend(DynamoError::Request {
        operation: "request building",
        code: None,
        detail: error.to_string(),
    })
}
