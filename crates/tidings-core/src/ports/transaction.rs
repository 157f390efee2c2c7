use std::{future::Future, sync::Arc};

use crate::Result;

/// A backend that can open a transaction in which business writes, staged outbox rows and inbox
/// claims commit together.
///
/// `Transaction` is the backend's native type (`sqlx::Transaction`, a MongoDB `ClientSession`,
/// a batch of DynamoDB `TransactWriteItem`s…), so a handler writes its own data with the driver
/// it already knows.
pub trait Transactional: Send + Sync {
    /// The backend's native transaction.
    type Transaction: Send;

    /// Opens a transaction.
    fn begin(&self) -> impl Future<Output = Result<Self::Transaction>> + Send;

    /// Makes everything written in `transaction` durable and visible, atomically.
    fn commit(&self, transaction: Self::Transaction) -> impl Future<Output = Result<()>> + Send;

    /// Discards everything written in `transaction`.
    fn rollback(&self, transaction: Self::Transaction) -> impl Future<Output = Result<()>> + Send;
}

impl<T: Transactional + ?Sized> Transactional for Arc<T> {
    type Transaction = T::Transaction;

    fn begin(&self) -> impl Future<Output = Result<Self::Transaction>> + Send {
        (**self).begin()
    }

    fn commit(&self, transaction: Self::Transaction) -> impl Future<Output = Result<()>> + Send {
        (**self).commit(transaction)
    }

    fn rollback(&self, transaction: Self::Transaction) -> impl Future<Output = Result<()>> + Send {
        (**self).rollback(transaction)
    }
}
