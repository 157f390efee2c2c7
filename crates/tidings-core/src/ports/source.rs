use std::future::Future;

use crate::{Result, cloudevents::Record};

/// One record from a broker, where it came from and how to acknowledge it.
#[derive(Clone, Debug)]
pub struct Delivery<P> {
    /// The record as the broker holds it.
    pub record: Record,
    /// Records of one lane are applied in order, one at a time; lanes go independently (a
    /// Kafka partition is a lane).
    pub lane: String,
    /// Where the record is, for [`RecordSource::ack`].
    pub position: P,
}

/// Where a consumer's records come from: a broker's subscription (the Kafka consumer, or a
/// second broker's). The consume engine of `tidings-uow` decodes, applies through the inbox,
/// retries, dead-letters and acknowledges; a broker adapter supplies only this.
pub trait RecordSource: Send + Sync {
    /// A record's place in its lane.
    type Position: Clone + Send + Sync + std::fmt::Display + 'static;

    /// The next record, waiting until there is one. An error is transient: the engine says
    /// so, pauses and asks again.
    fn next(&self) -> impl Future<Output = Result<Delivery<Self::Position>>> + Send;

    /// The record at `position` is done (its unit of work committed, it was a duplicate, or it
    /// was dead-lettered): the broker need not deliver it again. Called in order within a lane.
    fn ack(&self, position: &Self::Position) -> Result<()>;

    /// Sends a record that cannot be applied where such records go (a dead-letter topic),
    /// with `error` saying why.
    fn dead_letter(
        &self,
        delivery: &Delivery<Self::Position>,
        error: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Makes what was acknowledged durable (commits offsets); called when the consumer stops.
    fn flush(&self) -> impl Future<Output = Result<()>> + Send;
}

impl<T: RecordSource + ?Sized> RecordSource for std::sync::Arc<T> {
    type Position = T::Position;

    fn next(&self) -> impl Future<Output = Result<Delivery<Self::Position>>> + Send {
        (**self).next()
    }

    fn ack(&self, position: &Self::Position) -> Result<()> {
        (**self).ack(position)
    }

    fn dead_letter(
        &self,
        delivery: &Delivery<Self::Position>,
        error: &str,
    ) -> impl Future<Output = Result<()>> + Send {
        (**self).dead_letter(delivery, error)
    }

    fn flush(&self) -> impl Future<Output = Result<()>> + Send {
        (**self).flush()
    }
}
