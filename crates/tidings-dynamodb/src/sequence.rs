//! Sequences order the rows of a key. DynamoDB has no server-side counter a transaction could
//! read, so they are made here: the commit time in microseconds times 1000, plus a counter, and
//! never below a sequence seen in the table (a Lamport clock). A commit whose sequence is not
//! above the key's last one — another host's clock runs ahead — is refused by the key item's
//! condition, and retried with sequences above it; so a key's sequences follow commit order.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::Utc;

#[derive(Debug, Default)]
pub(crate) struct Sequencer {
    last: AtomicI64,
}

impl Sequencer {
    /// The next sequence: above every one made or observed before.
    pub(crate) fn next(&self) -> i64 {
        let clock = Utc::now().timestamp_micros().saturating_mul(1000);
        let previous = self
            .last
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
                Some(clock.max(last.saturating_add(1)))
            })
            .unwrap_or_else(|last| last);
        clock.max(previous.saturating_add(1))
    }

    /// Notes a sequence found in the table, so that later ones come after it.
    pub(crate) fn observe(&self, sequence: i64) {
        self.last.fetch_max(sequence, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_increase_and_pass_what_was_observed() {
        let sequencer = Sequencer::default();
        let first = sequencer.next();
        let second = sequencer.next();
        assert!(second > first);
        let ahead = second + 10_000_000_000;
        sequencer.observe(ahead);
        assert!(sequencer.next() > ahead);
    }
}
