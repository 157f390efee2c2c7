//! What a backend gives the suites: the ports, a business row to count, a second handle, the
//! capabilities it has; and the unit of work the suites drive through it.

use std::future::Future;

use tidings_core::{
    DeadLetterRepository, Envelope, Error, InboxRepository, OutboxInspector, OutboxRepository,
    Result, Transactional,
};
use tidings_uow::{Handled, UnitOfWork, UnitOfWorkError, Work};

/// What a backend can do, declared by its adapter. A case that needs a capability the backend
/// lacks is listed as ignored, with the reason, rather than dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Two write transactions can be open at once (false for SQLite, which serialises writers,
    /// so a row can never commit after a row with a higher sequence).
    pub concurrent_writers: bool,
    /// A commit through another handle (another process's connections) wakes this handle's
    /// subscribers: the server tells them (PostgreSQL `NOTIFY`, a MongoDB change stream).
    pub wakes_across_processes: bool,
    /// Published rows stay (counted, listed for replay, purged by retention); false for a
    /// backend set to delete them as they are settled.
    pub keeps_published: bool,
}

impl Capabilities {
    /// Concurrent writers; wake-ups within the process only.
    pub fn new() -> Self {
        Self {
            concurrent_writers: true,
            wakes_across_processes: false,
            keeps_published: true,
        }
    }

    /// Declares that only one write transaction can be open at a time.
    pub fn serialised_writers(mut self) -> Self {
        self.concurrent_writers = false;
        self
    }

    /// Declares that settling deletes published rows.
    pub fn deleting_published(mut self) -> Self {
        self.keeps_published = false;
        self
    }

    /// Declares that commits through other handles wake subscribers.
    pub fn waking_across_processes(mut self) -> Self {
        self.wakes_across_processes = true;
        self
    }
}

impl Default for Capabilities {
    fn default() -> Self {
        Self::new()
    }
}

/// A backend under test as the suites see it: the backend, a business row for the suite to
/// count (the stand-in for a handler's own data), a second handle on the same store, what it
/// can do, and how to remove what a case made. An adapter's test crate implements it on a type
/// of its own that holds the backend.
pub trait MarkerStore: Clone + Send + Sync + 'static {
    /// The backend under test.
    type Backend: OutboxRepository
        + InboxRepository
        + DeadLetterRepository
        + OutboxInspector
        + Clone
        + Send
        + Sync
        + 'static;

    /// The backend.
    fn backend(&self) -> &Self::Backend;

    /// What the backend can do.
    fn capabilities() -> Capabilities;

    /// Writes one row tagged `marker` within `transaction`.
    fn write_marker(
        &self,
        transaction: &mut <Self::Backend as Transactional>::Transaction,
        marker: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Committed rows tagged `marker`.
    fn count_markers(&self, marker: &str) -> impl Future<Output = Result<u64>> + Send;

    /// Another handle on the same store through connections of its own, as a second process
    /// would have (the in-memory store, having no connections, returns a clone).
    fn reconnect(&self) -> impl Future<Output = Result<Self>> + Send;

    /// This handle, numbering its rows as if its host's clock ran `offset` ahead: a writer on
    /// another host. `None` (the default) declares that the backend's sequences do not come
    /// from a clock (the database assigns them), so no writer's clock can misorder them.
    fn with_clock_skew(self, offset: chrono::TimeDelta) -> Option<Self> {
        let _ = offset;
        None
    }

    /// Removes what the case made (a database, tables); called after each case.
    fn clean_up(self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// How the handler of a [`WorkPlan`] ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Returns `Ok`.
    Commit,
    /// Returns an error.
    Fail,
    /// Panics.
    Panic,
}

/// One unit of work for a suite to run: an optional incoming message, a business write, the
/// events to stage and how the handler ends.
#[derive(Clone, Debug)]
pub struct WorkPlan {
    /// Handled through the inbox when set; otherwise a plain unit of work.
    pub incoming: Option<Envelope>,
    /// Consumer name for the inbox claim.
    pub consumer: String,
    /// Tag of the business row the handler writes.
    pub marker: String,
    /// Envelopes the handler stages, one by one; a rejected one is reported and the handler
    /// goes on.
    pub outgoing: Vec<Envelope>,
    /// How the handler ends.
    pub ending: Ending,
}

impl WorkPlan {
    /// A plan that writes `marker`, stages `outgoing` and commits.
    pub fn commit(marker: &str, outgoing: Vec<Envelope>) -> Self {
        Self {
            incoming: None,
            consumer: "conformance".to_owned(),
            marker: marker.to_owned(),
            outgoing,
            ending: Ending::Commit,
        }
    }

    /// Handles `incoming` through the inbox.
    pub fn handling(mut self, incoming: &Envelope) -> Self {
        self.incoming = Some(incoming.clone());
        self
    }

    /// Ends the handler with `ending`.
    pub fn ending(mut self, ending: Ending) -> Self {
        self.ending = ending;
        self
    }

    /// Claims as `consumer`.
    pub fn as_consumer(mut self, consumer: &str) -> Self {
        self.consumer = consumer.to_owned();
        self
    }
}

/// What became of a [`WorkPlan`].
#[derive(Debug)]
pub enum WorkOutcome {
    /// Committed; the errors of the envelopes that were rejected at staging, in order.
    Committed(Vec<Error>),
    /// The incoming message was a duplicate; the handler did not run.
    Duplicate,
    /// The handler failed and everything was rolled back.
    HandlerFailed,
    /// The handler panicked and everything was rolled back.
    HandlerPanicked,
}

impl WorkOutcome {
    /// Whether the unit of work committed.
    pub fn committed(&self) -> bool {
        matches!(self, Self::Committed(_))
    }
}

/// Why the suite's handler gave up.
#[derive(Debug, thiserror::Error)]
#[error("the plan asked the handler to fail")]
struct PlannedFailure;

/// Runs `plan` in one real [`UnitOfWork`] over `store`.
pub async fn run_plan<B: MarkerStore>(store: &B, plan: WorkPlan) -> Result<WorkOutcome> {
    let uow = UnitOfWork::new(store.backend().clone()).with_consumer(&plan.consumer);
    let handler = async |work: &mut Work<<B::Backend as Transactional>::Transaction>| {
        store.write_marker(work.transaction(), &plan.marker).await?;
        let mut rejected = Vec::new();
        for envelope in plan.outgoing.iter().cloned() {
            if let Err(e) = work.stage_envelope(envelope) {
                rejected.push(e);
            }
        }
        tokio::task::yield_now().await;
        match plan.ending {
            Ending::Commit => Ok(rejected),
            Ending::Fail => Err(Error::backend(PlannedFailure)),
            Ending::Panic => panic!("the plan asked the handler to panic"),
        }
    };
    let outcome = match &plan.incoming {
        Some(incoming) => uow
            .handle(incoming, handler)
            .await
            .map(|handled| match handled {
                Handled::Applied(rejected) => WorkOutcome::Committed(rejected),
                Handled::Duplicate => WorkOutcome::Duplicate,
            }),
        None => uow.run(handler).await.map(WorkOutcome::Committed),
    };
    match outcome {
        Ok(outcome) => Ok(outcome),
        Err(UnitOfWorkError::Handler(_)) => Ok(WorkOutcome::HandlerFailed),
        Err(UnitOfWorkError::Panicked(_)) => Ok(WorkOutcome::HandlerPanicked),
        Err(UnitOfWorkError::Tidings(e)) => Err(e),
        Err(other) => Err(Error::backend(other.to_string())),
    }
}
