//! The consume engine, written once for every broker: it takes records from a
//! [`RecordSource`], decodes each as a CloudEvent (or a hexkit event, when asked), applies it through a [`UnitOfWork`] that
//! claims its id in the inbox, retries a failing handler with backoff, dead-letters what cannot
//! be applied, and acknowledges a record only after its unit of work committed.
//!
//! Records of one lane (a Kafka partition) are applied in order, one at a time; lanes go
//! independently, so a record being retried holds back its own lane only. Each lane buffers up
//! to [`ConsumeConfig::lane_buffer`] records: once a held-back lane's buffer is full, the engine
//! stops taking records until it has room, since records cannot be skipped.

use std::{collections::HashMap, future::Future, time::Duration};

use futures_util::{StreamExt, stream::FuturesUnordered};
use tidings_core::{
    BoxError, Delivery, Envelope, InboxRepository, OutboxRepository, RecordSource, Result,
    RetryPolicy, metric,
    wire::{self, HeaderProfile},
};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use crate::{Handled, UnitOfWork, UnitOfWorkError, Work};

/// Applies one event inside a unit of work: write the effects with `work.transaction()`, stage
/// outgoing events with `work.stage(..)`. The inbox claim is already made in the same
/// transaction; returning an error rolls everything back and the record is retried.
pub trait EventHandler<Tx>: Send + Sync {
    /// Applies `event`.
    fn handle(
        &self,
        work: &mut Work<Tx>,
        event: &Envelope,
    ) -> impl Future<Output = std::result::Result<(), BoxError>> + Send;
}

/// How the engine consumes.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ConsumeConfig {
    /// Retries of a failing handler before the record is dead-lettered.
    pub retry: RetryPolicy,
    /// Records a lane holds while an earlier one of it is being applied or retried.
    pub lane_buffer: usize,
    /// The headers records carry their attributes in: strict CloudEvents by default; a hexkit
    /// profile also reads hexkit's events.
    pub headers: HeaderProfile,
}

impl Default for ConsumeConfig {
    /// Five attempts, 200 ms to 10 s apart; 1024 records per lane.
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default()
                .with_max_attempts(5)
                .with_delays(Duration::from_millis(200), Duration::from_secs(10)),
            lane_buffer: 1024,
            headers: HeaderProfile::default(),
        }
    }
}

impl ConsumeConfig {
    /// Sets the retry policy of failing handlers.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Reads records as `headers` says.
    pub fn with_headers(mut self, headers: HeaderProfile) -> Self {
        self.headers = headers;
        self
    }

    /// Sets how many records a lane buffers (at least 1).
    pub fn with_lane_buffer(mut self, records: usize) -> Self {
        self.lane_buffer = records.max(1);
        self
    }
}

/// What a consumer has done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerReport {
    /// Records applied (their unit of work committed).
    pub applied: u64,
    /// Records skipped because the inbox had them already.
    pub duplicates: u64,
    /// Records that are not valid CloudEvents, dead-lettered.
    pub malformed: u64,
    /// Records whose handler kept failing, dead-lettered.
    pub dead_lettered: u64,
    /// Failed attempts that were retried.
    pub retries: u64,
}

impl ConsumerReport {
    /// Records finished one way or another.
    pub fn processed(&self) -> u64 {
        self.applied + self.duplicates + self.malformed + self.dead_lettered
    }
}

/// The idempotent consumer over a record source: see the [module](self) notes.
pub struct Consumer<S, B> {
    source: S,
    uow: UnitOfWork<B>,
    config: ConsumeConfig,
    progress: watch::Sender<ConsumerReport>,
}

impl<S, B> std::fmt::Debug for Consumer<S, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How a lane's work ended: a record that could neither be applied nor dead-lettered.
type LaneResult = Result<()>;

/// Where the engine hands a lane its records.
type Lane<P> = mpsc::Sender<Delivery<P>>;

/// A record waiting for room in its lane.
type Held<P> = Option<(Lane<P>, Delivery<P>)>;

impl<S, B> Consumer<S, B>
where
    S: RecordSource,
    B: OutboxRepository + InboxRepository,
{
    /// Applies the records of `source` through `uow` (whose consumer name is the inbox's).
    pub fn new(source: S, uow: UnitOfWork<B>, config: ConsumeConfig) -> Self {
        Self {
            source,
            uow,
            config,
            progress: watch::Sender::new(ConsumerReport::default()),
        }
    }

    /// The record source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// Follows the report as the consumer works.
    pub fn progress(&self) -> watch::Receiver<ConsumerReport> {
        self.progress.subscribe()
    }

    /// Consumes until `shutdown` is cancelled, then flushes what was acknowledged and returns
    /// the report. Each lane finishes the record in hand first; records it buffered are not
    /// acknowledged and come again. Returns an error only when a record can neither be applied
    /// nor dead-lettered (it is not acknowledged, so it comes back after a restart).
    pub async fn run<H>(&self, handler: &H, shutdown: CancellationToken) -> Result<ConsumerReport>
    where
        H: EventHandler<B::Transaction>,
    {
        info!("consumer started");
        let result = self.dispatch(handler, &shutdown).await;
        if let Err(error) = self.source.flush().await {
            warn!(%error, "committing what was consumed failed at shutdown");
        }
        info!("consumer stopped");
        result.map(|()| self.progress.borrow().clone())
    }

    /// Takes records and hands each to its lane, while the lanes work.
    async fn dispatch<H>(&self, handler: &H, shutdown: &CancellationToken) -> Result<()>
    where
        H: EventHandler<B::Transaction>,
    {
        let mut lanes: HashMap<String, Lane<S::Position>> = HashMap::new();
        let mut working = FuturesUnordered::new();
        // A record whose lane is full, and that lane: nothing more is taken until it has room.
        let mut held: Held<S::Position> = None;
        loop {
            let waiting_for_room = held.as_ref().map(|(lane, _)| lane.clone());
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                Some(ended) = working.next() => ended?,
                room = async { waiting_for_room?.reserve_owned().await.ok() },
                    if held.is_some() =>
                {
                    if let (Some(permit), Some((_, delivery))) = (room, held.take()) {
                        permit.send(delivery);
                    }
                }
                next = self.source.next(), if held.is_none() => {
                    let delivery = match next {
                        Ok(delivery) => delivery,
                        Err(error) => {
                            self.receiving_failed(&error).await;
                            continue;
                        }
                    };
                    let lane = lanes.entry(delivery.lane.clone()).or_insert_with(|| {
                        let (sender, receiver) = mpsc::channel(self.config.lane_buffer);
                        working.push(self.lane(receiver, handler, shutdown));
                        sender
                    });
                    if let Err(mpsc::error::TrySendError::Full(delivery)) = lane.try_send(delivery) {
                        held = Some((lane.clone(), delivery));
                    }
                }
            }
        }
    }

    async fn receiving_failed(&self, error: &tidings_core::Error) {
        metrics::counter!(metric::CONSUMER_ERRORS).increment(1);
        warn!(%error, "receiving failed; trying again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    /// Applies a lane's records one after the other, acknowledging each when done.
    async fn lane<H>(
        &self,
        mut records: mpsc::Receiver<Delivery<S::Position>>,
        handler: &H,
        shutdown: &CancellationToken,
    ) -> LaneResult
    where
        H: EventHandler<B::Transaction>,
    {
        while let Some(delivery) = records.recv().await {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            self.process(&delivery, handler, shutdown).await?;
            if let Err(error) = self.source.ack(&delivery.position) {
                warn!(%error, "acknowledging failed; the record may be delivered again");
            }
        }
        Ok(())
    }

    async fn process<H>(
        &self,
        delivery: &Delivery<S::Position>,
        handler: &H,
        shutdown: &CancellationToken,
    ) -> Result<()>
    where
        H: EventHandler<B::Transaction>,
    {
        let span = info_span!(
            "tidings.consume.record",
            topic = %delivery.record.topic,
            position = %delivery.position,
        );
        async {
            match wire::decode(&delivery.record, self.config.headers) {
                Ok(event) => self.apply(delivery, &event, handler, shutdown).await,
                Err(error) => {
                    self.source
                        .dead_letter(delivery, &error.to_string())
                        .await?;
                    self.dead_lettered();
                    self.update(|r| r.malformed += 1);
                    Ok(())
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Applies `event` until it commits, is a duplicate, or runs out of attempts.
    async fn apply<H>(
        &self,
        delivery: &Delivery<S::Position>,
        event: &Envelope,
        handler: &H,
        shutdown: &CancellationToken,
    ) -> Result<()>
    where
        H: EventHandler<B::Transaction>,
    {
        let mut attempts = 0;
        loop {
            let started = std::time::Instant::now();
            let outcome = self
                .uow
                .handle(event, async |work| handler.handle(work, event).await)
                .await;
            metrics::histogram!(metric::CONSUMER_HANDLER).record(started.elapsed().as_secs_f64());
            let error = match outcome {
                Ok(Handled::Applied(())) => {
                    metrics::counter!(metric::CONSUMER_EVENTS_APPLIED).increment(1);
                    self.update(|r| r.applied += 1);
                    return Ok(());
                }
                Ok(Handled::Duplicate) => {
                    metrics::counter!(metric::CONSUMER_DUPLICATES_SKIPPED).increment(1);
                    self.update(|r| r.duplicates += 1);
                    return Ok(());
                }
                Err(UnitOfWorkError::Tidings(error)) if error.is_transient() => {
                    // The database is down or another transaction got in the way, not the
                    // record's fault: wait, do not count.
                    warn!(%error, "backend unavailable or a conflicting transaction; retrying");
                    if shutdown.is_cancelled() {
                        return Err(error);
                    }
                    let pause = self.config.retry.max_delay.min(Duration::from_secs(1));
                    tokio::time::sleep(pause).await;
                    continue;
                }
                Err(error) => error.to_string(),
            };
            attempts += 1;
            if self.config.retry.is_exhausted(attempts) {
                warn!(id = %event.id, attempts, %error, "record dead-lettered");
                self.source.dead_letter(delivery, &error).await?;
                self.dead_lettered();
                self.update(|r| r.dead_lettered += 1);
                return Ok(());
            }
            self.update(|r| r.retries += 1);
            tokio::time::sleep(self.config.retry.delay(attempts, fastrand::f64())).await;
        }
    }

    fn dead_lettered(&self) {
        metrics::counter!(metric::CONSUMER_EVENTS_DEAD_LETTERED).increment(1);
    }

    fn update(&self, change: impl FnOnce(&mut ConsumerReport)) {
        self.progress.send_modify(change);
    }
}
