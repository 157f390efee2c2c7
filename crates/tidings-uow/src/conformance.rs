//! Lets the core conformance suite drive this unit of work.

use tidings_core::{
    Error, Result,
    conformance::{Capabilities, Ending, Harness, MarkerStore, WorkOutcome, WorkPlan},
};

use crate::{UnitOfWork, UnitOfWorkError};

/// A [`UnitOfWork`] that the suite drives, with the backend's declared capabilities.
#[derive(Clone, Debug)]
pub struct ConformanceHarness<B> {
    uow: UnitOfWork<B>,
    capabilities: Capabilities,
}

impl<B: MarkerStore> ConformanceHarness<B> {
    /// A harness over `backend`.
    pub fn new(backend: B, capabilities: Capabilities) -> Self {
        Self {
            uow: UnitOfWork::new(backend),
            capabilities,
        }
    }
}

/// Why the suite's handler gave up.
#[derive(Debug, thiserror::Error)]
#[error("the plan asked the handler to fail")]
struct PlannedFailure;

impl<B: MarkerStore> Harness for ConformanceHarness<B> {
    type Backend = B;

    fn backend(&self) -> &B {
        self.uow.backend()
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn twin(&self) -> Result<Self> {
        Ok(Self::new(
            self.uow.backend().reconnect().await?,
            self.capabilities,
        ))
    }

    async fn skewed_twin(&self, offset: chrono::TimeDelta) -> Result<Option<Self>> {
        let backend = self.uow.backend().reconnect().await?;
        Ok(backend
            .with_clock_skew(offset)
            .map(|backend| Self::new(backend, self.capabilities)))
    }

    async fn run(&self, plan: WorkPlan) -> Result<WorkOutcome> {
        let uow = self.uow.clone().with_consumer(&plan.consumer);
        let backend = self.uow.backend().clone();
        let handler = async |work: &mut crate::Work<B::Transaction>| {
            backend
                .write_marker(work.transaction(), &plan.marker)
                .await?;
            let mut rejected = Vec::new();
            for envelope in plan.outgoing.iter().cloned() {
                if let Err(e) = work.stage_envelope(envelope) {
                    rejected.push(e);
                }
            }
            tokio_yield().await;
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
                    crate::Handled::Applied(rejected) => WorkOutcome::Committed(rejected),
                    crate::Handled::Duplicate => WorkOutcome::Duplicate,
                }),
            None => uow.run(handler).await.map(WorkOutcome::Committed),
        };
        match outcome {
            Ok(outcome) => Ok(outcome),
            Err(UnitOfWorkError::Handler(_)) => Ok(WorkOutcome::HandlerFailed),
            Err(UnitOfWorkError::Panicked(_)) => Ok(WorkOutcome::HandlerPanicked),
            Err(UnitOfWorkError::Tidings(e)) => Err(e),
        }
    }
}

/// Gives a concurrent delivery the chance to run between claim and commit.
async fn tokio_yield() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}
