//! What the relay records, under the names of [`tidings_core::metric`].

use metrics::{counter, gauge, histogram};
use tidings_core::{OutboxStats, metric};

use crate::BatchReport;

pub(crate) fn record_batch(report: &BatchReport, seconds: f64) {
    counter!(metric::OUTBOX_EVENTS_PUBLISHED).increment(report.published as u64);
    counter!(metric::OUTBOX_RELAY_ERRORS, "kind" => "event").increment(report.retried as u64);
    counter!(metric::OUTBOX_EVENTS_FAILED).increment(report.dead_lettered as u64);
    counter!(metric::OUTBOX_RELAY_LOST_LEASES).increment(report.lost_leases as u64);
    histogram!(metric::OUTBOX_RELAY_BATCH).record(seconds);
    if report.claimed > 0 {
        let per_event = seconds / report.claimed as f64;
        histogram!(metric::OUTBOX_RELAY_PROCESSING).record_many(per_event, report.claimed);
    }
}

pub(crate) fn record_event_age(seconds: f64) {
    histogram!(metric::OUTBOX_EVENT_AGE).record(seconds);
}

pub(crate) fn record_error(kind: &'static str) {
    counter!(metric::OUTBOX_RELAY_ERRORS, "kind" => kind).increment(1);
}

pub(crate) fn record_stats(stats: &OutboxStats) {
    gauge!(metric::OUTBOX_QUEUE_DEPTH, "status" => "pending").set(stats.pending as f64);
    gauge!(metric::OUTBOX_QUEUE_DEPTH, "status" => "leased").set(stats.leased as f64);
    gauge!(metric::OUTBOX_QUEUE_DEPTH, "status" => "dead").set(stats.dead as f64);
}

pub(crate) fn record_purged(rows: u64) {
    counter!(metric::OUTBOX_EVENTS_PURGED).increment(rows);
}
