use std::{collections::HashSet, time::Instant};

use chrono::{DateTime, Utc};
use tidings_core::{
    ClaimRequest, Envelope, Error, EventPublisher, OutboxRepository, OutboxRepositoryExt, Outcome,
    Result, Settlement,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::{RelayConfig, metrics};

/// What one batch did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchReport {
    /// Rows claimed.
    pub claimed: usize,
    /// Rows the broker acknowledged.
    pub published: usize,
    /// Rows that failed and will be tried again.
    pub retried: usize,
    /// Rows moved to dead letters.
    pub dead_lettered: usize,
    /// Rows given back unsent because an earlier row of their key failed.
    pub released: usize,
    /// Settlements refused because another relay took the lease meanwhile.
    pub lost_leases: usize,
}

/// What [`Relay::drain`] did, summed over its batches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainReport {
    /// Batches run.
    pub batches: usize,
    /// The batches' counts added up.
    pub total: BatchReport,
}

impl BatchReport {
    fn add(&mut self, other: &BatchReport) {
        self.claimed += other.claimed;
        self.published += other.published;
        self.retried += other.retried;
        self.dead_lettered += other.dead_lettered;
        self.released += other.released;
        self.lost_leases += other.lost_leases;
    }
}

/// What a batch's settling has found so far.
struct Batch {
    now: DateTime<Utc>,
    failed_keys: HashSet<String>,
    report: BatchReport,
}

impl Batch {
    fn new(claimed: usize) -> Self {
        Self {
            now: Utc::now(),
            failed_keys: HashSet::new(),
            report: BatchReport {
                claimed,
                ..BatchReport::default()
            },
        }
    }
}

/// Delivers outbox rows of `O` through publisher `P`.
#[derive(Debug)]
pub struct Relay<O, P> {
    outbox: O,
    publisher: P,
    config: RelayConfig,
    batches_failing: Outage,
    maintenance_failing: Outage,
}

/// One span per event, child of the span that staged it, open while the batch is sent; none
/// unless a trace propagator is installed (see `tidings_core::trace`).
fn publish_spans(envelopes: &[Envelope]) -> Vec<tracing::Span> {
    if !tidings_core::trace::enabled() {
        return Vec::new();
    }
    envelopes
        .iter()
        .map(|envelope| {
            let span = tracing::info_span!(
                "tidings.publish",
                message_id = %envelope.id,
                topic = %envelope.topic,
                key = %envelope.key,
            );
            tidings_core::trace::adopt(&span, envelope.traceparent.as_deref());
            span
        })
        .collect()
}

/// Whether something keeps failing: its first failure is logged as a warning and its
/// recovery once, the failures between only at debug level, so an outage of the database or
/// the broker does not flood the log.
#[derive(Debug, Default)]
struct Outage(std::sync::atomic::AtomicBool);

impl Outage {
    /// Notes a failure; true for the first of an outage, which is the one logged as a warning.
    fn failed(&self, what: &str, error: &tidings_core::Error) -> bool {
        let first = !self.0.swap(true, std::sync::atomic::Ordering::AcqRel);
        if first {
            warn!(%error, "{what} failed; trying again until it works (logged once)");
        } else {
            debug!(%error, "{what} still failing");
        }
        first
    }

    /// Notes a success; true when it ends an outage, which is logged.
    fn worked(&self, what: &str) -> bool {
        let recovered = self.0.swap(false, std::sync::atomic::Ordering::AcqRel);
        if recovered {
            info!("{what} works again");
        }
        recovered
    }
}

impl<O: OutboxRepository, P: EventPublisher> Relay<O, P> {
    /// A relay from `outbox` to `publisher`.
    pub fn new(outbox: O, publisher: P, config: RelayConfig) -> Self {
        Self {
            outbox,
            publisher,
            config,
            batches_failing: Outage::default(),
            maintenance_failing: Outage::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RelayConfig {
        &self.config
    }

    /// Claims one batch, sends it and settles every row.
    pub async fn run_once(&self) -> Result<BatchReport> {
        self.run_batch(&self.config.owner).await
    }

    async fn run_batch(&self, owner: &str) -> Result<BatchReport> {
        let started = Instant::now();
        let workers = self.config.workers.max(1);
        let request = ClaimRequest::new(owner, self.config.batch_size, self.config.lease)
            .with_max_keys(self.config.batch_size.div_ceil(workers));
        let records = self.outbox.claim_batch(&request).await?;
        if records.is_empty() {
            return Ok(BatchReport::default());
        }
        let span = info_span!("tidings.relay", %owner, rows = records.len());
        async {
            let (envelopes, attempts): (Vec<Envelope>, Vec<(u32, i64)>) = records
                .into_iter()
                .map(|r| (r.envelope, (r.attempts, r.sequence)))
                .unzip();
            let publishing = publish_spans(&envelopes);
            let results = self.publisher.publish_batch(&envelopes).await;
            drop(publishing);
            let mut batch = Batch::new(envelopes.len());
            let results = results
                .into_iter()
                .map(Some)
                .chain(std::iter::repeat_with(|| None));
            let settlements: Vec<Settlement> = envelopes
                .iter()
                .zip(attempts)
                .zip(results)
                .map(|((envelope, (attempts, sequence)), result)| {
                    let outcome = self.outcome(envelope, attempts, result, &mut batch);
                    Settlement::new(envelope.key.clone(), sequence, envelope.id.clone(), outcome)
                })
                .collect();
            let mut report = batch.report;
            let applied = self.outbox.settle(owner, batch.now, &settlements).await?;
            report.lost_leases = settlements.len().saturating_sub(applied as usize);
            if report.lost_leases > 0 {
                warn!(
                    lost = report.lost_leases,
                    "leases were taken over before the batch settled"
                );
            }
            if self.config.metrics {
                metrics::record_batch(&report, started.elapsed().as_secs_f64());
            }
            Ok(report)
        }
        .instrument(span)
        .await
    }

    /// What becomes of a sent row whose event had `attempts` failures before and whose send
    /// gave `result` (`None`: the publisher gave no result for it). After a failure, the rest
    /// of its key in the batch is released, not counted as attempted.
    fn outcome(
        &self,
        envelope: &Envelope,
        attempts: u32,
        result: Option<Result<()>>,
        batch: &mut Batch,
    ) -> Outcome {
        let failed_key = batch.failed_keys.contains(envelope.key.as_str());
        let error = match result {
            Some(Ok(())) => {
                if failed_key {
                    warn!(key = %envelope.key, "publisher delivered an event after an earlier one of its key failed");
                }
                batch.report.published += 1;
                let age = (batch.now - envelope.time).num_milliseconds().max(0) as f64 / 1000.0;
                if self.config.metrics {
                    metrics::record_event_age(age);
                }
                return Outcome::Published;
            }
            Some(Err(error)) => error,
            None => Error::Publish {
                topic: envelope.topic.clone(),
                source: "the publisher returned no result for this event".into(),
            },
        };
        if failed_key {
            batch.report.released += 1;
            return Outcome::Release;
        }
        batch.failed_keys.insert(envelope.key.clone());
        let attempts = attempts + 1;
        let invalid = error.is_invalid_input();
        let error = error.to_string();
        if invalid || self.config.retry.is_exhausted(attempts) {
            warn!(id = %envelope.id, attempts, %error, "event dead-lettered");
            batch.report.dead_lettered += 1;
            return Outcome::DeadLetter { error };
        }
        let delay = self.config.retry.delay(attempts, fastrand::f64());
        debug!(id = %envelope.id, attempts, ?delay, %error, "event will be retried");
        batch.report.retried += 1;
        Outcome::Retry {
            error,
            at: batch.now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
        }
    }

    /// Runs batches until a claim comes back empty (rows waiting for a retry stay).
    pub async fn drain(&self) -> Result<DrainReport> {
        let mut report = DrainReport::default();
        loop {
            let batch = self.run_once().await?;
            if batch.claimed == 0 {
                return Ok(report);
            }
            report.batches += 1;
            report.total.add(&batch);
        }
    }

    /// Purges published rows older than the retention and refreshes the queue-depth gauges;
    /// returns how many rows went.
    pub async fn maintain(&self) -> Result<u64> {
        let mut purged = 0;
        if let Some(retention) = self.config.retention {
            let cutoff =
                Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
            purged = self
                .outbox
                .purge_all_published(cutoff, self.config.purge_batch)
                .await?;
            if self.config.metrics {
                metrics::record_purged(purged);
            }
        }
        self.refresh_queue_depth().await?;
        Ok(purged)
    }

    /// Counts the outbox's rows by status into the queue-depth gauges (nothing, with metrics
    /// off).
    pub async fn refresh_queue_depth(&self) -> Result<()> {
        if self.config.metrics {
            metrics::record_stats(&self.outbox.stats().await?);
        }
        Ok(())
    }

    /// Runs until `shutdown` is cancelled: sends batches back to back while there is work, then
    /// waits for a notification or the poll interval. Errors are logged and retried after the
    /// error retry interval; nothing is lost because rows stay in the outbox. On shutdown the batches in
    /// flight are finished and settled before this returns.
    ///
    /// With [`RelayConfig::workers`] above 1, that many claim loops run side by side on this
    /// task (lease owners `<owner>#<n>`), so one batch is claimed while another is being sent.
    /// Batches in flight never share a key — a key's later rows are not claimable while its
    /// earlier ones are leased — so order per key holds as with one loop.
    pub async fn run(&self, shutdown: CancellationToken) {
        let notifications = self.outbox.subscribe();
        info!(owner = %self.config.owner, workers = self.config.workers,
            notifications = notifications.is_some(), "relay started");
        // One wake-up brings in one worker, not all of them: a single new row would otherwise
        // start a claim per worker, all but one finding nothing, each costing the database CPU
        // the one useful claim waits for. A worker whose batch came back full wakes another.
        let wake = Notify::new();
        let forward = async {
            let Some(mut notifications) = notifications else {
                return;
            };
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    open = notifications.notified() => {
                        if !open {
                            return;
                        }
                        wake.notify_one();
                    }
                }
            }
        };
        let workers = (0..self.config.workers.max(1)).map(|n| {
            let owner = if self.config.workers > 1 {
                format!("{}#{n}", self.config.owner)
            } else {
                self.config.owner.clone()
            };
            self.work(owner, n == 0, &wake, shutdown.clone())
        });
        let ((), _) = tokio::join!(forward, futures_util::future::join_all(workers));
        info!(owner = %self.config.owner, "relay stopped");
    }

    async fn work(
        &self,
        owner: String,
        maintains: bool,
        wake: &Notify,
        shutdown: CancellationToken,
    ) {
        let mut last_maintenance: Option<Instant> = None;
        let mut last_count: Option<Instant> = None;
        while !shutdown.is_cancelled() {
            let due =
                last_maintenance.is_none_or(|t| t.elapsed() >= self.config.maintenance_interval);
            let count_due =
                last_count.is_none_or(|t| t.elapsed() >= self.config.queue_depth_interval);
            if maintains && count_due && !due {
                // Between purges the gauges are kept current by a count of their own; a
                // failure here shows in the maintenance run that follows.
                if self.refresh_queue_depth().await.is_ok() {
                    last_count = Some(Instant::now());
                }
            }
            if maintains && due {
                last_count = Some(Instant::now());
                match self.maintain().await {
                    Ok(_) => {
                        self.maintenance_failing.worked("outbox maintenance");
                    }
                    Err(error) => {
                        if self.config.metrics {
                            metrics::record_error("maintenance");
                        }
                        self.maintenance_failing
                            .failed("outbox maintenance", &error);
                    }
                }
                last_maintenance = Some(Instant::now());
            }
            let full = match self.run_batch(&owner).await {
                Ok(report) => {
                    self.batches_failing.worked("relaying");
                    report.claimed >= self.config.batch_size
                }
                Err(error) => {
                    if self.config.metrics {
                        metrics::record_error("batch");
                    }
                    self.batches_failing.failed("relaying", &error);
                    // A failing database or broker gets a longer rest, and wake-ups do not cut
                    // it short: a burst of commits would otherwise hammer what is failing.
                    tokio::select! {
                        () = shutdown.cancelled() => {}
                        () = tokio::time::sleep(self.config.error_retry_interval) => {}
                    }
                    continue;
                }
            };
            if full {
                wake.notify_one();
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = wake.notified() => {}
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_logged_when_it_starts_and_when_it_ends() {
        let outage = Outage::default();
        let error = tidings_core::Error::unavailable("down");
        assert!(!outage.worked("relaying"), "nothing to recover from");
        assert!(
            outage.failed("relaying", &error),
            "the first failure is reported"
        );
        assert!(!outage.failed("relaying", &error), "the next ones are not");
        assert!(outage.worked("relaying"), "the recovery is reported");
        assert!(!outage.worked("relaying"));
        assert!(
            outage.failed("relaying", &error),
            "a new outage is reported again"
        );
    }
}
