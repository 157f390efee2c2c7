//! Metric names, so dashboards and the CLI's exporter agree on them.

use metrics::{counter, gauge, histogram};
use tidings_core::OutboxStats;

use crate::BatchReport;

pub(crate) fn record_batch(report: &BatchReport, seconds: f64) {
    counter!("tidings_outbox_published_total").increment(report.published as u64);
    counter!("tidings_outbox_failed_total").increment(report.retried as u64);
    counter!("tidings_outbox_dead_lettered_total").increment(report.dead_lettered as u64);
    counter!("tidings_relay_lost_leases_total").increment(report.lost_leases as u64);
    histogram!("tidings_relay_batch_duration_seconds").record(seconds);
}

pub(crate) fn record_event_age(seconds: f64) {
    histogram!("tidings_outbox_event_age_seconds").record(seconds);
}

pub(crate) fn record_error(stage: &'static str) {
    counter!("tidings_relay_errors_total", "stage" => stage).increment(1);
}

pub(crate) fn record_stats(stats: &OutboxStats) {
    gauge!("tidings_outbox_queue_depth", "status" => "pending").set(stats.pending as f64);
    gauge!("tidings_outbox_queue_depth", "status" => "leased").set(stats.leased as f64);
    gauge!("tidings_outbox_queue_depth", "status" => "dead").set(stats.dead as f64);
}

pub(crate) fn record_purged(rows: u64) {
    counter!("tidings_outbox_purged_total").increment(rows);
}
