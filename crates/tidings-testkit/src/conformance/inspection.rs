//! What operators read: counts per topic with the oldest pending row and the last publication,
//! and the published rows of a time range in sequence order, paged (`tidings status`,
//! `tidings replay`).

use tidings_core::{OutboxInspector, PublishedQuery, TopicStats};

use super::common::*;

/// Per-topic counts and times, and the published rows of a range in order, page by page.
pub async fn operators_see_topics_and_published_ranges<B: MarkerStore>(store: &B) {
    let backend = store.backend();
    let (orders, audit) = (unique("orders"), unique("audit"));
    stage_committed(
        backend,
        &[
            event(&orders, "k1", "a1"),
            event(&orders, "k1", "a2"),
            event(&orders, "k2", "a3"),
            event(&audit, "k3", "b1"),
        ],
    )
    .await;
    // A whole second, after the rows were staged (they are due at once): every backend keeps
    // whole seconds exactly (MongoDB dates hold milliseconds).
    let t0 = DateTime::from_timestamp(Utc::now().timestamp() + 1, 0).expect("a time");
    let claimed = claim(backend, "relay", t0).await;
    assert_eq!(labels(&claimed), ["a1", "a2", "a3", "b1"]);
    settle_all(
        backend,
        "relay",
        at(t0, 10),
        &claimed[..1],
        Outcome::Published,
    )
    .await;
    settle_all(
        backend,
        "relay",
        at(t0, 20),
        &claimed[1..2],
        Outcome::Published,
    )
    .await;
    settle_all(backend, "relay", t0, &claimed[2..3], Outcome::Release).await;
    let dead = Outcome::DeadLetter {
        error: "refused".to_owned(),
    };
    settle_all(backend, "relay", t0, &claimed[3..], dead).await;

    let topics = backend.topic_stats().await.expect("topic_stats failed");
    let of = |name: &str| -> TopicStats {
        topics
            .iter()
            .find(|t| t.topic == name)
            .cloned()
            .unwrap_or_else(|| panic!("topic {name} missing from {topics:?}"))
    };
    let orders_stats = of(&orders);
    assert_eq!(
        (orders_stats.counts.pending, orders_stats.counts.published),
        (1, 2)
    );
    assert_eq!(orders_stats.last_published, Some(at(t0, 20)));
    let staged = orders_stats
        .oldest_pending
        .expect("the pending row's staging time");
    assert!(
        (staged - Utc::now()).num_seconds().abs() < 60,
        "the oldest pending row was staged at {staged}"
    );
    let audit_stats = of(&audit);
    assert_eq!(
        (audit_stats.counts.dead, audit_stats.counts.pending),
        (1, 0)
    );
    assert_eq!(
        (audit_stats.oldest_pending, audit_stats.last_published),
        (None, None)
    );

    published_ranges_are_paged_in_order(backend, t0).await;
}

async fn published_ranges_are_paged_in_order<B: OutboxInspector>(backend: &B, t0: DateTime<Utc>) {
    let list = |query: PublishedQuery| async move {
        let rows = backend
            .list_published(&query)
            .await
            .expect("list_published failed");
        (labels(&rows), rows.last().map(|r| r.sequence))
    };
    assert_eq!(
        list(PublishedQuery::between(t0, at(t0, 30), 10)).await.0,
        ["a1", "a2"]
    );
    assert_eq!(
        list(PublishedQuery::between(at(t0, 10), at(t0, 20), 10))
            .await
            .0,
        ["a1"],
        "the range is [from, to)"
    );
    assert!(
        list(PublishedQuery::between(at(t0, 21), at(t0, 99), 10))
            .await
            .0
            .is_empty()
    );
    let (first, last) = list(PublishedQuery::between(t0, at(t0, 30), 1)).await;
    assert_eq!(first, ["a1"]);
    let after = PublishedQuery::between(t0, at(t0, 30), 1).after(last.expect("a sequence"));
    assert_eq!(
        list(after).await.0,
        ["a2"],
        "the next page starts after the last row"
    );
}
