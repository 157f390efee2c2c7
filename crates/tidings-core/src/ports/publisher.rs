use std::{future::Future, sync::Arc};

use crate::{Envelope, Result};

/// What happened to each envelope of a batch, in the batch's order.
pub type PublishOutcome = Vec<Result<()>>;

/// Sends envelopes to a broker.
///
/// Contract for [`publish_batch`](Self::publish_batch): it returns one result per envelope, in
/// order, only after the broker has acknowledged or refused each; and it keeps order per key —
/// an envelope is never delivered ahead of an earlier envelope of the same key in the batch, so
/// when one fails the later ones of its key fail too (or are not sent).
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait EventPublisher: Send + Sync {
    /// Sends every envelope and reports, per envelope, whether the broker took it.
    fn publish_batch(&self, envelopes: &[Envelope]) -> impl Future<Output = PublishOutcome> + Send;

    /// Sends one envelope.
    fn publish(&self, envelope: &Envelope) -> impl Future<Output = Result<()>> + Send {
        async move {
            self.publish_batch(std::slice::from_ref(envelope))
                .await
                .pop()
                .unwrap_or(Ok(()))
        }
    }
}

impl<T: EventPublisher + ?Sized> EventPublisher for Arc<T> {
    fn publish_batch(&self, envelopes: &[Envelope]) -> impl Future<Output = PublishOutcome> + Send {
        (**self).publish_batch(envelopes)
    }

    fn publish(&self, envelope: &Envelope) -> impl Future<Output = Result<()>> + Send {
        (**self).publish(envelope)
    }
}
