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
