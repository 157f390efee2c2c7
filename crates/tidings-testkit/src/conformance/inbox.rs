//! Invariant 2, the inbox: a message delivered twice, one after the other or at once, is applied once.

use super::common::*;

/// Invariant 2: a message handled twice, one after the other, is applied once; the second
/// handler's effects and events are not written. Another consumer applies it on its own.
pub async fn inbox_duplicate_sequential<B: MarkerStore>(store: &B) {
    let topic = unique("out");
    let incoming = event(&unique("in"), "k", "incoming");
    let (first, second) = (unique("first"), unique("second"));
    let plan = |marker: &str, label: &str| {
        WorkPlan::commit(marker, vec![event(&topic, "k", label)]).handling(&incoming)
    };
    assert!(run(store, plan(&first, "from-first")).await.committed());
    let again = run(store, plan(&second, "from-second")).await;
    assert!(
        matches!(again, WorkOutcome::Duplicate),
        "second delivery gave {again:?}"
    );
    assert_eq!(markers(store, &first).await, 1);
    assert_eq!(
        markers(store, &second).await,
        0,
        "a duplicate's effects were written"
    );
    let claimed = claim(store.backend(), "relay", Utc::now()).await;
    assert_eq!(
        labels(&claimed),
        ["from-first"],
        "a duplicate's events were staged"
    );

    let other = unique("other");
    let by_other = run(
        store,
        WorkPlan::commit(&other, vec![])
            .handling(&incoming)
            .as_consumer("other"),
    )
    .await;
    assert!(
        by_other.committed(),
        "another consumer must apply the message too: {by_other:?}"
    );
}

/// Invariant 2: the same message handled concurrently through two handles on one store (with
/// connection pools of their own, as two processes would have) is applied exactly once.
pub async fn inbox_duplicate_concurrent<B: MarkerStore>(one: &B) {
    let two = &one
        .reconnect()
        .await
        .expect("a second handle on the same store");
    let topic = unique("out");
    let incoming = event(&unique("in"), "k", "incoming");
    for round in 0..8 {
        let mut incoming = incoming.clone();
        incoming.id = MessageId::new();
        let marker = unique("concurrent");
        let plan = |label: &str| {
            WorkPlan::commit(&marker, vec![event(&topic, &format!("k{round}"), label)])
                .handling(&incoming)
        };
        let (a, b) = tokio::join!(run_plan(one, plan("a")), run_plan(two, plan("b")));
        let outcomes = [
            a.expect("first delivery failed"),
            b.expect("second delivery failed"),
        ];
        let committed = outcomes.iter().filter(|o| o.committed()).count();
        let duplicates = outcomes
            .iter()
            .filter(|o| matches!(o, WorkOutcome::Duplicate))
            .count();
        assert_eq!(
            (committed, duplicates),
            (1, 1),
            "round {round}: {outcomes:?}"
        );
        assert_eq!(
            markers(one, &marker).await,
            1,
            "round {round}: effects applied twice"
        );
    }
    let claimed = claim(one.backend(), "relay", Utc::now()).await;
    assert_eq!(
        claimed.len(),
        8,
        "one staged event per message: {:?}",
        labels(&claimed)
    );
}

/// Invariant 2, checked before the work: `contains` sees a consumer's committed claims only —
/// not one rolled back, not one still open in a transaction, not another consumer's — and
/// `ensure_idempotence` turns a committed one into `Error::AlreadyApplied`.
pub async fn inbox_contains_only_committed_claims<B: MarkerStore>(store: &B) {
    let backend = store.backend();
    let incoming = event(&unique("in"), "k", "incoming");
    let id = &incoming.id;
    let contains = async |consumer: &str| backend.contains(consumer, id).await.expect("contains");
    assert!(
        !contains("conformance").await,
        "a fresh message is contained"
    );
    tidings_core::ensure_idempotence(backend, "conformance", id)
        .await
        .expect("a fresh message passes");

    let failed = WorkPlan::commit(&unique("failed"), vec![])
        .handling(&incoming)
        .ending(Ending::Fail);
    assert!(matches!(
        run(store, failed).await,
        WorkOutcome::HandlerFailed
    ));
    assert!(
        !contains("conformance").await,
        "a rolled-back claim is contained"
    );

    let mut open = backend.begin().await.expect("begin");
    let claimed = backend
        .claim_message(&mut open, "conformance", id, Utc::now())
        .await
        .expect("claim");
    assert_eq!(claimed, tidings_core::InboxClaim::Fresh);
    assert!(
        !contains("conformance").await,
        "an uncommitted claim is contained"
    );
    backend.rollback(open).await.expect("rollback");

    let applied = WorkPlan::commit(&unique("applied"), vec![]).handling(&incoming);
    assert!(run(store, applied).await.committed());
    assert!(
        contains("conformance").await,
        "a committed claim is not contained"
    );
    assert!(
        !contains("other").await,
        "another consumer's claim is contained"
    );
    let refused = tidings_core::ensure_idempotence(backend, "conformance", id).await;
    assert!(
        matches!(&refused, Err(Error::AlreadyApplied { consumer, id: which })
            if consumer == "conformance" && which == id),
        "{refused:?}"
    );
}
