//! Invariant 3, no loss: rows are found by state, so a row whose transaction commits late is still sent.

use super::common::*;

/// Invariant 3: a row whose transaction commits after a later row was claimed and published is
/// still found (rows are found by state, not by the last sequence seen). On a backend with
/// serialised writers that interleaving cannot happen; the function then checks the sequential
/// case and says so.
pub async fn late_commit_is_not_lost<B: MarkerStore>(store: &B) {
    let backend = store.backend();
    let topic = unique("late");
    let early = event(&topic, "k-early", "early-sequence");
    let late = event(&topic, "k-late", "late-sequence");
    if B::capabilities().concurrent_writers {
        let mut slow = backend.begin().await.expect("begin");
        backend.stage(&mut slow, &[early]).await.expect("stage");
        let mut fast = backend.begin().await.expect("begin");
        backend.stage(&mut fast, &[late]).await.expect("stage");
        backend.commit(fast).await.expect("commit");
        let first = claim(backend, "relay", Utc::now()).await;
        assert_eq!(labels(&first), ["late-sequence"]);
        settle_all(backend, "relay", Utc::now(), &first, Outcome::Published).await;
        backend.commit(slow).await.expect("commit");
    } else {
        eprintln!(
            "late_commit_is_not_lost: the backend serialises writers, so a row cannot commit \
             after a later one; checking that a row committed after a publish is found"
        );
        let mut tx = backend.begin().await.expect("begin");
        backend.stage(&mut tx, &[late]).await.expect("stage");
        backend.commit(tx).await.expect("commit");
        let first = claim(backend, "relay", Utc::now()).await;
        settle_all(backend, "relay", Utc::now(), &first, Outcome::Published).await;
        let mut tx = backend.begin().await.expect("begin");
        backend.stage(&mut tx, &[early]).await.expect("stage");
        backend.commit(tx).await.expect("commit");
    }
    let second = claim(backend, "relay", Utc::now()).await;
    assert_eq!(
        labels(&second),
        ["early-sequence"],
        "the late-committing row was lost"
    );
}
