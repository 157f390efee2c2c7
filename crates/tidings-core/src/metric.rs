//! The name of every metric Tidings emits, written once. The relay's names are those of the
//! HuleEdu outbox library (`outbox_…`), so dashboards built on it keep working; the consumer's
//! follow them (`consumer_…`). The `tidings` daemon exports them at `/metrics`.
//!
//! | name | kind | labels | counts |
//! |---|---|---|---|
//! | `outbox_queue_depth` | gauge | `status` (`pending`, `leased`, `dead`) | rows by status, refreshed every few seconds by the relay |
//! | `outbox_events_added_total` | counter | | events committed to the outbox (in the staging process) |
//! | `outbox_events_published_total` | counter | | events the broker acknowledged |
//! | `outbox_events_failed_total` | counter | | events failed for good (dead-lettered) |
//! | `outbox_relay_errors_total` | counter | `kind` (`event`, `batch`, `maintenance`) | temporary errors: an event to retry, a batch or a maintenance run that failed |
//! | `outbox_event_age_seconds` | histogram | | from an event's time to its publication |
//! | `outbox_relay_processing_seconds` | histogram | | a batch's time shared among its events |
//! | `outbox_relay_batch_seconds` | histogram | | claim, send and settle of one batch |
//! | `outbox_events_purged_total` | counter | | published rows removed by retention |
//! | `outbox_relay_lost_leases_total` | counter | | rows another relay took over before this one settled them |
//! | `consumer_events_applied_total` | counter | | incoming events applied (their unit of work committed) |
//! | `consumer_duplicates_skipped_total` | counter | | incoming events the inbox had already |
//! | `consumer_events_dead_lettered_total` | counter | | incoming events given up (malformed, or the handler kept failing) |
//! | `consumer_handler_seconds` | histogram | | one attempt at applying an event, inbox claim and commit included |
//! | `consumer_errors_total` | counter | | failures to receive from the broker |
//! | `events_published_total` | counter | `kind` (`audit`, `notification`, `domain`, `custom`), `path` (`outbox`, `direct`) | typed events published through `tidings::events::Events` |

/// Rows by status (gauge, label `status`).
pub const OUTBOX_QUEUE_DEPTH: &str = "outbox_queue_depth";
/// Events committed to the outbox (counter).
pub const OUTBOX_EVENTS_ADDED: &str = "outbox_events_added_total";
/// Events the broker acknowledged (counter).
pub const OUTBOX_EVENTS_PUBLISHED: &str = "outbox_events_published_total";
/// Events failed for good, dead-lettered (counter).
pub const OUTBOX_EVENTS_FAILED: &str = "outbox_events_failed_total";
/// Temporary relay errors (counter, label `kind`).
pub const OUTBOX_RELAY_ERRORS: &str = "outbox_relay_errors_total";
/// Age of events when published (histogram, seconds).
pub const OUTBOX_EVENT_AGE: &str = "outbox_event_age_seconds";
/// Processing time per event (histogram, seconds).
pub const OUTBOX_RELAY_PROCESSING: &str = "outbox_relay_processing_seconds";
/// Processing time per batch (histogram, seconds).
pub const OUTBOX_RELAY_BATCH: &str = "outbox_relay_batch_seconds";
/// Published rows purged (counter).
pub const OUTBOX_EVENTS_PURGED: &str = "outbox_events_purged_total";
/// Leases taken over before settling (counter).
pub const OUTBOX_RELAY_LOST_LEASES: &str = "outbox_relay_lost_leases_total";
/// Incoming events applied (counter).
pub const CONSUMER_EVENTS_APPLIED: &str = "consumer_events_applied_total";
/// Incoming duplicates skipped (counter).
pub const CONSUMER_DUPLICATES_SKIPPED: &str = "consumer_duplicates_skipped_total";
/// Incoming events dead-lettered (counter).
pub const CONSUMER_EVENTS_DEAD_LETTERED: &str = "consumer_events_dead_lettered_total";
/// Time of one attempt at applying an event (histogram, seconds).
pub const CONSUMER_HANDLER: &str = "consumer_handler_seconds";
/// Failures to receive from the broker (counter).
pub const CONSUMER_ERRORS: &str = "consumer_errors_total";
/// Typed events published through the events publisher (counter, labels `kind` and `path`).
pub const EVENTS_PUBLISHED: &str = "events_published_total";
