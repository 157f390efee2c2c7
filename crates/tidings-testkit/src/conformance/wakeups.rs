//! Wake-ups: a commit that staged rows wakes the outbox's subscribers (and so a relay that
//! would otherwise poll), a rollback wakes nobody, and where the server carries the hint
//! (PostgreSQL `NOTIFY`, a MongoDB change stream) a commit through another process's
//! connections wakes them too.
//!
//! Subscriptions that the server feeds connect in the background and say nothing when they are
//! ready, so a case commits until the first hint arrives before it relies on one.

use std::sync::{Arc, Mutex};

use tidings_core::{EventPublisher, Notifications};
use tidings_relay::{Relay, RelayConfig};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::common::*;

/// How long a case waits for the first hint of a subscription the server feeds.
const FIRST_HINT: Duration = Duration::from_secs(20);

/// How long one commit waits for its hint before the case commits again.
const ONE_HINT: Duration = Duration::from_millis(200);

/// How long no hint must come for a rollback to count as silent.
const QUIET: Duration = Duration::from_millis(500);

fn subscribe<B: MarkerStore>(store: &B) -> Notifications {
    store
        .backend()
        .subscribe()
        .expect("every backend offers subscriptions inside a Tokio runtime")
}

async fn commit_one<B: MarkerStore>(store: &B) {
    let plan = WorkPlan::commit(&unique("wake"), vec![event(&unique("w"), "k", "wake")]);
    let outcome = run(store, plan).await;
    assert!(outcome.committed(), "{outcome:?}");
}

/// Commits through `writer` until `notifications` has a hint, within [`FIRST_HINT`].
async fn commit_until_woken<W, F>(notifications: &mut Notifications, mut commit: W)
where
    W: FnMut() -> F,
    F: Future<Output = ()>,
{
    crate::env::within("a hint after committed stages", FIRST_HINT, async {
        loop {
            commit().await;
            if tokio::time::timeout(ONE_HINT, notifications.notified())
                .await
                .is_ok()
            {
                return;
            }
        }
    })
    .await;
}

/// Waits until no hint has come for [`QUIET`]: hints of commits already made have all arrived.
async fn until_quiet(notifications: &mut Notifications) {
    crate::env::within("hints to stop", FIRST_HINT, async {
        while tokio::time::timeout(QUIET, notifications.notified())
            .await
            .is_ok()
        {}
    })
    .await;
}

/// A unit of work that staged events wakes the outbox's subscribers when it commits.
pub async fn a_committed_unit_of_work_wakes_subscribers<B: MarkerStore>(store: &B) {
    let mut notifications = subscribe(store);
    commit_until_woken(&mut notifications, || commit_one(store)).await;
}

/// A unit of work that rolls back, and a staging transaction rolled back by hand, wake nobody;
/// the next commit does.
pub async fn a_rolled_back_unit_of_work_wakes_nobody<B: MarkerStore>(store: &B) {
    let mut notifications = subscribe(store);
    commit_until_woken(&mut notifications, || commit_one(store)).await;
    until_quiet(&mut notifications).await;

    let failed = WorkPlan::commit(&unique("wake"), vec![event(&unique("w"), "k", "never")])
        .ending(Ending::Fail);
    assert!(matches!(
        run(store, failed).await,
        WorkOutcome::HandlerFailed
    ));
    let backend = store.backend();
    let mut transaction = backend.begin().await.expect("begin");
    backend
        .stage(&mut transaction, &[event(&unique("w"), "k", "never")])
        .await
        .expect("stage");
    backend.rollback(transaction).await.expect("rollback");
    let woken = tokio::time::timeout(QUIET, notifications.notified()).await;
    assert!(woken.is_err(), "a rolled-back stage woke a subscriber");

    commit_one(store).await;
    crate::env::within(
        "a hint after a commit",
        FIRST_HINT,
        notifications.notified(),
    )
    .await;
}

/// A commit through another handle on the store (another process's connections) wakes this
/// handle's subscribers: the server carries the hint.
pub async fn a_commit_through_another_connection_wakes_subscribers<B: MarkerStore>(store: &B) {
    let other = store
        .reconnect()
        .await
        .expect("a second handle on the store");
    let other = other.backend();
    let mut notifications = subscribe(store);
    commit_until_woken(&mut notifications, || async {
        let mut transaction = other.begin().await.expect("begin");
        other
            .stage(&mut transaction, &[event(&unique("w"), "k", "elsewhere")])
            .await
            .expect("stage");
        other.commit(transaction).await.expect("commit");
    })
    .await;
}

/// Remembers what it was asked to publish, and says how much.
#[derive(Clone, Default)]
struct Recording {
    sent: Arc<Mutex<Vec<Envelope>>>,
    count: Arc<watch::Sender<usize>>,
}

impl EventPublisher for Recording {
    async fn publish_batch(&self, envelopes: &[Envelope]) -> Vec<tidings_core::Result<()>> {
        let mut sent = self.sent.lock().expect("recording");
        sent.extend_from_slice(envelopes);
        self.count.send_replace(sent.len());
        envelopes.iter().map(|_| Ok(())).collect()
    }
}

/// A relay that polls once an hour still sends a committed event at once: the commit wakes it.
pub async fn a_relay_wakes_on_commit_without_polling<B: MarkerStore>(store: &B) {
    let publisher = Recording::default();
    let mut sent = publisher.count.subscribe();
    let config = RelayConfig::default()
        .with_poll_interval(Duration::from_secs(3600))
        .with_retention(None);
    let relay = Relay::new(store.backend().clone(), publisher.clone(), config);
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { relay.run(shutdown).await }
    });
    crate::env::within("a relay woken by a commit", FIRST_HINT, async {
        loop {
            commit_one(store).await;
            if tokio::time::timeout(ONE_HINT, sent.wait_for(|n| *n > 0))
                .await
                .is_ok()
            {
                return;
            }
        }
    })
    .await;
    shutdown.cancel();
    crate::env::within("the relay to stop", FIRST_HINT, running)
        .await
        .expect("the relay task");
}
