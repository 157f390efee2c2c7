//! The conformance suite every storage adapter runs: one `pub async fn` per case, grouped by
//! the invariant of the design it shows. A case takes the store under test (the ports plus
//! [`MarkerStore`]); units of work go through the real `tidings-uow` code, and the relay-side
//! cases drive the repository ports with the clock passed in, so no case sleeps.
//!
//! A capability a backend lacks is declared in its [`Capabilities`]: a case that needs it is
//! listed as ignored with the reason, and a case that can check a weaker property says which.

pub mod atomic_outbox;
pub mod bad_input;
pub mod claims_and_order;
mod common;
pub mod dead_letters;
pub mod inbox;
pub mod inspection;
pub mod late_commits;
pub mod retention;
pub mod wakeups;

use std::{future::Future, pin::Pin};

pub use common::event;

use crate::store::{Capabilities, MarkerStore};

/// A capability a case needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Needs {
    /// Runs on every backend.
    Nothing,
    /// [`Capabilities::wakes_across_processes`].
    WakesAcrossProcesses,
    /// [`Capabilities::keeps_published`].
    KeepsPublished,
}

impl Needs {
    /// Why a backend with `capabilities` cannot run the case, if it cannot.
    pub(crate) fn lacking(self, capabilities: &Capabilities) -> Option<&'static str> {
        match self {
            Self::Nothing => None,
            Self::WakesAcrossProcesses if capabilities.wakes_across_processes => None,
            Self::WakesAcrossProcesses => {
                Some("the backend wakes subscribers in its own process only; relays elsewhere poll")
            }
            Self::KeepsPublished if capabilities.keeps_published => None,
            Self::KeepsPublished => {
                Some("the backend deletes published rows: none to list, replay or purge")
            }
        }
    }
}

pub(crate) type CaseFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// One case of the suite: its name, what it needs, and how to run it on a fresh store.
pub(crate) struct Case<B> {
    pub(crate) name: &'static str,
    pub(crate) needs: Needs,
    pub(crate) run: for<'a> fn(&'a B) -> CaseFuture<'a>,
}

macro_rules! cases {
    ($($needs:ident: $($module:ident::$name:ident),+;)+) => {
        vec![$($(Case {
            name: stringify!($name),
            needs: Needs::$needs,
            run: |store| Box::pin($module::$name(store)),
        }),+),+]
    };
}

/// Every case of the suite, in the order the invariants are numbered.
pub(crate) fn cases<B: MarkerStore>() -> Vec<Case<B>> {
    cases![
        Nothing:
            atomic_outbox::atomic_outbox_commit,
            atomic_outbox::atomic_outbox_rollback_on_error,
            atomic_outbox::atomic_outbox_rollback_on_panic,
            inbox::inbox_duplicate_sequential,
            inbox::inbox_duplicate_concurrent,
            inbox::inbox_contains_only_committed_claims,
            late_commits::late_commit_is_not_lost,
            claims_and_order::leases_expire_and_failures_come_back,
            claims_and_order::order_per_key,
            claims_and_order::live_leases_are_not_taken_over,
            claims_and_order::key_shares_split_keys_between_workers,
            claims_and_order::a_held_key_with_a_long_backlog_starves_nobody,
            claims_and_order::concurrent_relays_keep_order_per_key,
            claims_and_order::sequences_follow_commit_order_when_another_clock_runs_ahead,
            dead_letters::poison_goes_to_dead_letters,
            retention::published_rows_are_kept_or_deleted_as_declared,
            bad_input::bad_input_is_refused_and_loses_nothing,
            wakeups::a_committed_unit_of_work_wakes_subscribers,
            wakeups::a_rolled_back_unit_of_work_wakes_nobody,
            wakeups::a_relay_wakes_on_commit_without_polling;
        WakesAcrossProcesses:
            wakeups::a_commit_through_another_connection_wakes_subscribers;
        KeepsPublished:
            inspection::operators_see_topics_and_published_ranges,
            retention::retention_purges_in_batches;
    ]
}
