//! Invariant 1, the atomic outbox: a unit of work's business write and staged events commit together or not at all.

use super::common::*;

/// Invariant 1: the business write and the staged events of a committed unit of work exist
/// together, and the events come back from a claim in the order they were staged.
pub async fn atomic_outbox_commit<B: MarkerStore>(store: &B) {
    let topic = unique("orders");
    let marker = unique("commit");
    let outgoing = vec![event(&topic, "k", "first"), event(&topic, "k", "second")];
    let outcome = run(store, WorkPlan::commit(&marker, outgoing)).await;
    assert!(outcome.committed(), "expected a commit, got {outcome:?}");
    assert_eq!(markers(store, &marker).await, 1, "business write missing");
    let claimed = claim(store.backend(), "relay", Utc::now()).await;
    assert_eq!(labels(&claimed), ["first", "second"], "staged rows missing");
    assert!(claimed.iter().all(|r| r.envelope.topic == topic));
}

async fn assert_rolled_back<B: MarkerStore>(store: &B, ending: Ending) {
    let topic = unique("orders");
    let marker = unique("rollback");
    let incoming = event(&unique("in"), "k", "incoming");
    let plan = WorkPlan::commit(&marker, vec![event(&topic, "k", "never")])
        .handling(&incoming)
        .ending(ending);
    let outcome = run(store, plan.clone()).await;
    match (ending, &outcome) {
        (Ending::Fail, WorkOutcome::HandlerFailed)
        | (Ending::Panic, WorkOutcome::HandlerPanicked) => {}
        _ => panic!("a handler ending with {ending:?} gave {outcome:?}"),
    }
    assert_eq!(
        markers(store, &marker).await,
        0,
        "business write survived a rollback"
    );
    let claimed = claim(store.backend(), "relay", Utc::now()).await;
    assert!(
        claimed.is_empty(),
        "staged rows survived a rollback: {:?}",
        labels(&claimed)
    );
    let stats = store.backend().stats().await.expect("stats failed");
    assert_eq!(
        stats.pending + stats.leased + stats.published,
        0,
        "{stats:?}"
    );
    // The inbox claim was rolled back too: the message can be handled again.
    let retried = run(store, plan.ending(Ending::Commit)).await;
    assert!(
        retried.committed(),
        "redelivery after a rollback gave {retried:?}"
    );
    assert_eq!(markers(store, &marker).await, 1);
}

/// Invariant 1: a handler error rolls back the business write, the staged events and the
/// inbox claim.
pub async fn atomic_outbox_rollback_on_error<B: MarkerStore>(store: &B) {
    assert_rolled_back(store, Ending::Fail).await;
}

/// Invariant 1: a panic in the handler rolls back everything, like an error.
pub async fn atomic_outbox_rollback_on_panic<B: MarkerStore>(store: &B) {
    assert_rolled_back(store, Ending::Panic).await;
}
