//! Row sequences for backends with no server-side counter a transaction can read (MongoDB,
//! DynamoDB).
//!
//! A sequence orders the rows of a key, and roughly orders all rows by age so that claims take
//! the oldest work first. A [`ClockSequencer`] makes them from this host's clock: microseconds
//! times 1000 plus a counter, never below a sequence made or observed before (a Lamport clock).
//!
//! A clock alone does not follow commit order across hosts: a host whose clock runs behind
//! numbers a later commit below an earlier one. So an adapter keeps, per key, the last sequence
//! committed, written in the same transaction as the rows, and numbers a key's new rows above
//! it with [`ClockSequencer::next_above`]. Two writers of one key then conflict on that record,
//! and the one that commits second numbers its rows above the first's.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};

/// Makes increasing sequences from this host's clock. Share one per process and backend.
#[derive(Debug, Default)]
pub struct ClockSequencer {
    last: AtomicI64,
    offset_micros: i64,
}

impl ClockSequencer {
    /// A sequencer on this host's clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// A sequencer whose clock runs `offset` ahead of this host's (behind, if negative): what a
    /// writer on another host does. For tests of clock skew.
    pub fn skewed(offset: TimeDelta) -> Self {
        Self {
            last: AtomicI64::new(0),
            offset_micros: offset.num_microseconds().unwrap_or(i64::MAX),
        }
    }

    /// The time on this sequencer's clock: the host's, moved by the skew if there is one.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + TimeDelta::microseconds(self.offset_micros)
    }

    fn clock(&self) -> i64 {
        self.now().timestamp_micros().saturating_mul(1000)
    }

    /// The next sequence: above every one this sequencer made or observed.
    pub fn next(&self) -> i64 {
        self.next_above(i64::MIN)
    }

    /// The next sequence above `floor` (a key's last committed sequence) and above every one
    /// this sequencer made or observed.
    pub fn next_above(&self, floor: i64) -> i64 {
        let clock = self.clock().max(floor.saturating_add(1));
        let previous = self
            .last
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
                Some(clock.max(last.saturating_add(1)))
            })
            .unwrap_or_else(|last| last);
        clock.max(previous.saturating_add(1))
    }

    /// Notes a sequence found in the store, so that later ones come after it.
    pub fn observe(&self, sequence: i64) {
        self.last.fetch_max(sequence, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_increase_within_a_sequencer() {
        let sequencer = ClockSequencer::new();
        let sequences: Vec<i64> = (0..10_000).map(|_| sequencer.next()).collect();
        assert!(sequences.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn sequences_pass_what_was_observed_and_the_floor() {
        let sequencer = ClockSequencer::new();
        let second = {
            sequencer.next();
            sequencer.next()
        };
        let ahead = second + 10_000_000_000;
        sequencer.observe(ahead);
        assert!(sequencer.next() > ahead);
        let floor = ahead + 10_000_000_000;
        let above = sequencer.next_above(floor);
        assert!(above > floor);
        assert!(sequencer.next() > above, "the floor is remembered too");
    }

    #[test]
    fn a_skewed_clock_runs_ahead() {
        let here = ClockSequencer::new().next();
        let ahead = ClockSequencer::skewed(TimeDelta::hours(1)).next();
        let hour = 3_600_000_000_000_i64;
        assert!(ahead - here > hour - 60_000_000_000, "{ahead} vs {here}");
    }
}
