use std::time::Duration;

use tidings_core::{MessageId, RetryPolicy};

/// How a [`Relay`](crate::Relay) works.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RelayConfig {
    /// Name of this relay instance in leases; unique per instance.
    pub owner: String,
    /// Most rows claimed and sent per batch.
    pub batch_size: usize,
    /// Claim loops running side by side in [`Relay::run`](crate::Relay::run): with 2, one
    /// batch is claimed while the previous one is being sent.
    pub workers: usize,
    /// How long claimed rows stay leased. Longer than the slowest batch: a batch that outlives
    /// its lease may be sent by another relay too (a duplicate, never a loss).
    pub lease: Duration,
    /// How long to wait between polls when no notification arrives.
    pub poll_interval: Duration,
    /// How long to wait after a batch could not be claimed or settled (the database down)
    /// before the next try; notifications do not cut it short. Events the broker refuses are
    /// retried by row, with the retry policy's backoff.
    pub error_retry_interval: Duration,
    /// Whether the relay records its metrics (`outbox_*`); off, it records none and runs no
    /// queue-depth count.
    pub metrics: bool,
    /// Backoff and dead-lettering of failed rows.
    pub retry: RetryPolicy,
    /// How long published rows are kept; `None` keeps them for ever.
    pub retention: Option<Duration>,
    /// How often to purge published rows.
    pub maintenance_interval: Duration,
    /// How often to refresh the queue-depth gauges (one count by status).
    pub queue_depth_interval: Duration,
    /// Rows deleted per purge statement.
    pub purge_batch: u32,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            owner: format!("relay-{}", MessageId::new()),
            batch_size: 500,
            workers: 2,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(500),
            error_retry_interval: Duration::from_secs(2),
            metrics: true,
            retry: RetryPolicy::default(),
            retention: Some(Duration::from_secs(7 * 24 * 3600)),
            maintenance_interval: Duration::from_secs(60),
            queue_depth_interval: Duration::from_secs(5),
            purge_batch: 1000,
        }
    }
}

impl RelayConfig {
    /// Sets the instance name used in leases.
    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self
    }

    /// Sets the batch size (at least 1).
    pub fn with_batch_size(mut self, rows: usize) -> Self {
        self.batch_size = rows.max(1);
        self
    }

    /// Sets the number of claim loops (at least 1).
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Sets the lease duration.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Sets the polling interval.
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets the wait after a failed batch.
    pub fn with_error_retry_interval(mut self, interval: Duration) -> Self {
        self.error_retry_interval = interval;
        self
    }

    /// Turns the relay's metrics on or off.
    pub fn with_metrics(mut self, on: bool) -> Self {
        self.metrics = on;
        self
    }

    /// Dead-letters an event after `retries` failed attempts: HuleEdu's `max_retries`, the
    /// retry policy's `max_attempts` (at least 1).
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.retry.max_attempts = retries.max(1);
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the retention of published rows.
    pub fn with_retention(mut self, retention: Option<Duration>) -> Self {
        self.retention = retention;
        self
    }

    /// Sets how often maintenance (the purge) runs.
    pub fn with_maintenance_interval(mut self, interval: Duration) -> Self {
        self.maintenance_interval = interval;
        self
    }

    /// Sets how often the queue-depth gauges are refreshed.
    pub fn with_queue_depth_interval(mut self, interval: Duration) -> Self {
        self.queue_depth_interval = interval;
        self
    }
}
