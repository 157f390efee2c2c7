//! The unit of work: one backend transaction that carries a handler's business writes, the
//! events it stages and, for an incoming message, the inbox claim — committed together or not at
//! all.
//!
//! ```
//! # use tidings_memory::MemoryBackend;
//! # use tidings_uow::{Handled, UnitOfWork};
//! # use tidings_core::{Message, Envelope};
//! # #[derive(serde::Serialize)] struct OrderShipped { order_id: String }
//! # impl Message for OrderShipped {
//! #     fn message_type(&self) -> &str { "order.shipped" }
//! #     fn aggregate_id(&self) -> String { self.order_id.clone() }
//! #     fn topic(&self) -> Option<&str> { Some("shipping") }
//! # }
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let uow = UnitOfWork::new(MemoryBackend::new()).with_consumer("shipping");
//! let incoming = Envelope::new("orders", "order-1", "order.placed", "application/json", b"{}".to_vec());
//!
//! let outcome = uow
//!     .handle(&incoming, async |work| {
//!         // work.transaction() is the backend's own transaction: write business data with it.
//!         work.stage(&OrderShipped { order_id: incoming.key.clone() })?;
//!         Ok::<_, tidings_core::Error>("shipped")
//!     })
//!     .await?;
//! assert_eq!(outcome, Handled::Applied("shipped"));
//!
//! // The same message again is skipped without running the handler.
//! let again = uow.handle(&incoming, async |_| Ok::<_, tidings_core::Error>("twice")).await?;
//! assert_eq!(again, Handled::Duplicate);
//! # Ok(()) }
//! ```
//!
//! An error or a panic in the handler rolls the transaction back: no business write, no staged
//! event and no inbox claim survive, so the message can be handled again.

pub mod consume;

use std::{any::Any, fmt, panic::AssertUnwindSafe, sync::Arc};

use chrono::Utc;
use futures_util::FutureExt;
use tidings_core::{
    Envelope, EnvelopeFactory, InboxClaim, InboxRepository, Message, MessageId, OutboxRepository,
    context::{self, Context},
};
use tracing::{Instrument, debug, info_span, warn};

/// What [`UnitOfWork::handle`] did with an incoming message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handled<T> {
    /// The handler ran and its effects committed; here is what it returned.
    Applied(T),
    /// The message had been applied before; the handler did not run.
    Duplicate,
}

impl<T> Handled<T> {
    /// Whether the message was skipped as a duplicate.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, Self::Duplicate)
    }
}

/// Why a unit of work did not commit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnitOfWorkError<E> {
    /// The handler returned an error; everything was rolled back.
    #[error("the handler failed; the unit of work was rolled back: {0}")]
    Handler(E),
    /// The handler panicked; everything was rolled back.
    #[error("the handler panicked; the unit of work was rolled back: {0}")]
    Panicked(String),
    /// The backend failed (begin, claim, stage or commit); nothing was committed.
    #[error(transparent)]
    Tidings(#[from] tidings_core::Error),
}

/// What a handler works with: the backend's native transaction and the events it stages.
pub struct Work<Tx> {
    transaction: Tx,
    staged: Vec<Envelope>,
    factory: Arc<EnvelopeFactory>,
    context: Option<Context>,
}

impl<Tx> fmt::Debug for Work<Tx> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Work")
            .field("staged", &self.staged.len())
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl<Tx> Work<Tx> {
    /// The backend's transaction, for the handler's own writes.
    pub fn transaction(&mut self) -> &mut Tx {
        &mut self.transaction
    }

    /// Stages `message` to be written to the outbox when the unit of work commits. Bad input
    /// (no topic, an invalid topic, a payload that does not serialize or is too large) is an
    /// error here, and nothing is staged for it.
    pub fn stage<M: Message>(&mut self, message: &M) -> tidings_core::Result<MessageId> {
        let envelope = self.factory.envelope(message, self.context.as_ref())?;
        let id = envelope.id.clone();
        self.staged.push(envelope);
        Ok(id)
    }

    /// Stages an envelope built by hand (after validating it).
    pub fn stage_envelope(&mut self, mut envelope: Envelope) -> tidings_core::Result<MessageId> {
        envelope.validate(self.factory.limits())?;
        if envelope.traceparent.is_none() {
            envelope.traceparent = tidings_core::trace::current_traceparent();
        }
        let id = envelope.id.clone();
        self.staged.push(envelope);
        Ok(id)
    }

    /// Events staged so far.
    pub fn staged(&self) -> &[Envelope] {
        &self.staged
    }

    /// The correlation context the staged events inherit.
    pub fn context(&self) -> Option<&Context> {
        self.context.as_ref()
    }
}

/// Runs handlers in transactions of backend `B`.
///
/// `B` is any backend that implements both [`OutboxRepository`] and [`InboxRepository`] over one
/// transaction type. Cloning is cheap when `B` is.
#[derive(Clone, Debug)]
pub struct UnitOfWork<B> {
    backend: B,
    factory: Arc<EnvelopeFactory>,
    consumer: Arc<str>,
}

impl<B> UnitOfWork<B>
where
    B: OutboxRepository + InboxRepository,
{
    /// A unit of work over `backend`, staging events with source `tidings` and consuming as
    /// `default`.
    pub fn new(backend: B) -> Self {
        Self {
            backend,
            factory: Arc::new(EnvelopeFactory::default()),
            consumer: Arc::from("default"),
        }
    }

    /// Sets how messages become envelopes: source, topic router, size limits.
    pub fn with_factory(mut self, factory: EnvelopeFactory) -> Self {
        self.factory = Arc::new(factory);
        self
    }

    /// Sets the consumer name the inbox records claims under; consumers with different names
    /// each apply a message once.
    pub fn with_consumer(mut self, consumer: impl AsRef<str>) -> Self {
        self.consumer = Arc::from(consumer.as_ref());
        self
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Runs `handler` in a new transaction and commits its writes and staged events together.
    /// Events inherit the current [`context`]; with none, the unit of work is a conversation of
    /// its own: its events share one new correlation id. An event's own id wins over either.
    pub async fn run<T, E, F>(&self, handler: F) -> Result<T, UnitOfWorkError<E>>
    where
        F: AsyncFnOnce(&mut Work<B::Transaction>) -> Result<T, E>,
    {
        let transaction = self.backend.begin().await?;
        // A context without a correlation id gets one too: the unit of work is one conversation.
        let mut context = context::current().unwrap_or_default();
        context
            .correlation_id
            .get_or_insert_with(|| MessageId::new().to_string());
        self.execute(transaction, Some(context), handler)
            .instrument(info_span!("tidings.stage"))
            .await
    }

    /// Handles an incoming message exactly once: claims its id in the inbox, runs `handler` and
    /// commits claim, writes and staged events together. A message applied before returns
    /// [`Handled::Duplicate`] without running the handler; a concurrent second delivery waits for
    /// the first and then is a duplicate.
    pub async fn handle<T, E, F>(
        &self,
        incoming: &Envelope,
        handler: F,
    ) -> Result<Handled<T>, UnitOfWorkError<E>>
    where
        F: AsyncFnOnce(&mut Work<B::Transaction>) -> Result<T, E>,
    {
        let span = info_span!(
            "tidings.consume",
            message_id = %incoming.id,
            message_type = %incoming.message_type,
            consumer = %self.consumer,
        );
        tidings_core::trace::adopt(&span, incoming.traceparent.as_deref());
        async {
            let mut transaction = self.backend.begin().await?;
            let claim = self
                .backend
                .claim_message(&mut transaction, &self.consumer, &incoming.id, Utc::now())
                .await;
            match claim {
                Ok(InboxClaim::Fresh) => {}
                Ok(InboxClaim::Duplicate) => {
                    debug!("duplicate skipped");
                    self.rollback(transaction).await;
                    return Ok(Handled::Duplicate);
                }
                Err(e) => {
                    self.rollback(transaction).await;
                    return Err(e.into());
                }
            }
            let context = Context::caused_by(incoming);
            match self.execute(transaction, Some(context), handler).await {
                Ok(value) => Ok(Handled::Applied(value)),
                // A backend that checks the claim only at commit (DynamoDB) finds a
                // concurrent delivery there; nothing of this one was written.
                Err(UnitOfWorkError::Tidings(tidings_core::Error::AlreadyApplied { .. })) => {
                    debug!("duplicate found at commit");
                    Ok(Handled::Duplicate)
                }
                Err(e) => Err(e),
            }
        }
        .instrument(span)
        .await
    }

    async fn execute<T, E, F>(
        &self,
        transaction: B::Transaction,
        context: Option<Context>,
        handler: F,
    ) -> Result<T, UnitOfWorkError<E>>
    where
        F: AsyncFnOnce(&mut Work<B::Transaction>) -> Result<T, E>,
    {
        let mut work = Work {
            transaction,
            staged: Vec::new(),
            factory: Arc::clone(&self.factory),
            context,
        };
        let outcome = AssertUnwindSafe(handler(&mut work)).catch_unwind().await;
        let Work {
            mut transaction,
            staged,
            ..
        } = work;
        let value = match outcome {
            Ok(Ok(value)) => value,
            Ok(Err(error)) => {
                self.rollback(transaction).await;
                return Err(UnitOfWorkError::Handler(error));
            }
            Err(panic) => {
                self.rollback(transaction).await;
                return Err(UnitOfWorkError::Panicked(panic_message(panic.as_ref())));
            }
        };
        if !staged.is_empty()
            && let Err(e) = self.backend.stage(&mut transaction, &staged).await
        {
            self.rollback(transaction).await;
            return Err(e.into());
        }
        self.backend.commit(transaction).await?;
        if !staged.is_empty() {
            metrics::counter!(tidings_core::metric::OUTBOX_EVENTS_ADDED)
                .increment(staged.len() as u64);
            self.backend.after_commit();
        }
        Ok(value)
    }

    async fn rollback(&self, transaction: B::Transaction) {
        // A failed rollback leaves nothing committed either (the backend discards the
        // transaction), so it is reported but not returned over the handler's own error.
        if let Err(e) = self.backend.rollback(transaction).await {
            warn!(error = %e, "rollback failed");
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-text payload".to_owned())
}
