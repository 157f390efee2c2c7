//! Invariant 6, bounded tables: published rows and inbox entries are purged in batches.

use super::common::*;

/// Invariant 6: published rows (and inbox claims) older than the retention are purged in
/// batches of the given size; pending rows and newer rows are kept.
pub async fn retention_purges_in_batches<B: MarkerStore>(store: &B) {
    let backend = store.backend();
    let topic = unique("retention");
    let envelopes: Vec<Envelope> = (0..5)
        .map(|n| event(&topic, &format!("k{n}"), "old"))
        .collect();
    stage_committed(backend, &envelopes).await;
    let t0 = Utc::now();
    let claimed = claim(backend, "relay", t0).await;
    settle_all(backend, "relay", t0, &claimed, Outcome::Published).await;
    stage_committed(backend, &[event(&topic, "k-pending", "pending")]).await;

    let purge = |before, limit| backend.purge_published(before, limit);
    assert_eq!(
        purge(at(t0, -1), 10).await.expect("purge"),
        0,
        "purged rows newer than the cutoff"
    );
    let batches = [
        purge(at(t0, 1), 2).await.expect("purge"),
        purge(at(t0, 1), 2).await.expect("purge"),
        purge(at(t0, 1), 2).await.expect("purge"),
        purge(at(t0, 1), 2).await.expect("purge"),
    ];
    assert_eq!(batches, [2, 2, 1, 0], "purge must respect the batch size");
    let stats = backend.stats().await.expect("stats");
    assert_eq!((stats.published, stats.pending), (0, 1), "{stats:?}");

    let consumer = unique("consumer");
    let incoming: Vec<Envelope> = (0..3)
        .map(|n| event(&topic, "k", &format!("in{n}")))
        .collect();
    for message in &incoming {
        let plan = WorkPlan::commit(&unique("m"), vec![])
            .handling(message)
            .as_consumer(&consumer);
        assert!(run(store, plan).await.committed());
    }
    let purge_inbox = |limit| backend.purge_inbox(Utc::now() + chrono::Duration::minutes(1), limit);
    let inbox_batches = [
        purge_inbox(2).await.expect("purge_inbox"),
        purge_inbox(2).await.expect("purge_inbox"),
        purge_inbox(2).await.expect("purge_inbox"),
    ];
    assert_eq!(inbox_batches, [2, 1, 0]);
    let plan = WorkPlan::commit(&unique("m"), vec![])
        .handling(&incoming[0])
        .as_consumer(&consumer);
    assert!(
        run(store, plan).await.committed(),
        "a purged inbox entry still counted as a duplicate"
    );
}

/// Invariant 6, either way: a backend that keeps published rows counts and lists them; one
/// that deletes them as they are settled leaves no row behind and refuses to list any (a
/// replay must not report an empty history as if nothing had been published).
pub async fn published_rows_are_kept_or_deleted_as_declared<B: MarkerStore>(store: &B) {
    use tidings_core::{OutboxInspector, PublishedQuery};

    let backend = store.backend();
    let topic = unique("settled");
    let envelopes: Vec<Envelope> = (0..3)
        .map(|n| event(&topic, &format!("k{n}"), "sent"))
        .collect();
    stage_committed(backend, &envelopes).await;
    let t0 = Utc::now();
    let claimed = claim(backend, "relay", t0).await;
    assert_eq!(claimed.len(), 3, "{:?}", labels(&claimed));
    let settled = settle_all(backend, "relay", t0, &claimed, Outcome::Published).await;
    assert_eq!(settled, 3, "every published row is settled once");
    let again = settle_all(backend, "relay", t0, &claimed, Outcome::Published).await;
    assert_eq!(again, 0, "a row was settled twice");
    let stats = backend.stats().await.expect("stats");
    let listed = backend
        .list_published(&PublishedQuery::between(at(t0, -60), at(t0, 60), 10))
        .await;
    if B::capabilities().keeps_published {
        assert_eq!((stats.published, stats.pending, stats.leased), (3, 0, 0));
        assert_eq!(listed.expect("list_published").len(), 3);
    } else {
        assert_eq!(
            (stats.published, stats.pending, stats.leased, stats.dead),
            (0, 0, 0, 0),
            "published rows were kept: {stats:?}"
        );
        assert!(
            matches!(listed, Err(Error::Configuration(_))),
            "listing a deleted history gave {listed:?}"
        );
    }
}
