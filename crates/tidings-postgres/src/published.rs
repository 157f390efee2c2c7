//! What settling a published row does to it: keep it (for `tidings replay` and the retention
//! window) or delete it, the cheaper write.

use serde::{Deserialize, Serialize};

/// What becomes of an outbox row once its event is published.
///
/// A settled row is one more write per event. Marking it published is an `UPDATE`, which in
/// PostgreSQL writes a new row version and an entry in every index; a `DELETE` only marks the
/// old version dead. Deleting therefore raises the relay's ceiling, at the price of the
/// published history: nothing is left to [replay](tidings_core::OutboxInspector::list_published)
/// or to count as published.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PublishedRows {
    /// Mark them `published` and keep them until the relay's retention purge (the default).
    #[default]
    Keep,
    /// Delete them as they are settled.
    Delete,
}

impl PublishedRows {
    /// The mode named `name` (`keep` or `delete`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "keep" => Some(Self::Keep),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }
}
