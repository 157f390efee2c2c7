//! Invariants 3 and 4 on the relay's side: leases that expire, order per key, keys shared between relays and workers, and sequences in commit order whatever the writers' clocks say.

use std::collections::HashMap;

use super::common::*;

/// Invariant 3: a relay that dies holding a lease loses nothing: once the lease runs out
/// another relay gets the rows, and the dead relay can no longer settle them. A failed send
/// comes back when its retry is due.
pub async fn leases_expire_and_failures_come_back<B: MarkerStore>(store: &B) {
    let backend = store.backend();
    let topic = unique("lease");
    stage_committed(
        backend,
        &[event(&topic, "k", "one"), event(&topic, "k", "two")],
    )
    .await;
    let t0 = Utc::now();
    let held = claim(backend, "crashed", t0).await;
    assert_eq!(labels(&held), ["one", "two"]);
    assert!(
        claim(backend, "other", at(t0, 1)).await.is_empty(),
        "leased rows were claimed twice"
    );
    let taken = claim(backend, "other", at(t0, 31)).await;
    assert_eq!(
        labels(&taken),
        ["one", "two"],
        "rows of an expired lease were not handed over"
    );
    let late = settle_all(backend, "crashed", at(t0, 32), &held, Outcome::Release).await;
    assert_eq!(late, 0, "a relay settled rows after losing its lease");

    let (one, two) = (&taken[..1], &taken[1..]);
    let retry_at = at(t0, 90);
    let failure = Outcome::Retry {
        error: "broker down".to_owned(),
        at: retry_at,
    };
    assert_eq!(
        settle_all(backend, "other", at(t0, 33), one, failure).await,
        1
    );
    assert_eq!(
        settle_all(backend, "other", at(t0, 33), two, Outcome::Release).await,
        1
    );
    assert!(
        claim(backend, "other", at(t0, 60)).await.is_empty(),
        "a retry came back early"
    );
    let again = claim(backend, "other", retry_at).await;
    assert_eq!(labels(&again), ["one", "two"]);
    assert_eq!(again[0].attempts, 1, "a failed attempt was not counted");
    assert_eq!(again[0].last_error.as_deref(), Some("broker down"));
    assert_eq!(
        again[1].attempts, 0,
        "a released row was counted as attempted"
    );
}

/// Invariant 4: rows come back per key in staging order, a key leased by one relay is not handed
/// to another, and a failed row holds back the later rows of its key only.
pub async fn order_per_key<B: MarkerStore>(store: &B) {
    let backend = store.backend();
    let topic = unique("order");
    stage_committed(
        backend,
        &[event(&topic, "a", "a1"), event(&topic, "b", "b1")],
    )
    .await;
    stage_committed(
        backend,
        &[event(&topic, "a", "a2"), event(&topic, "a", "a3")],
    )
    .await;
    stage_committed(
        backend,
        &[event(&topic, "b", "b2"), event(&topic, "a", "a4")],
    )
    .await;
    let t0 = Utc::now();
    let claimed = claim(backend, "one", t0).await;
    let per_key = |records: &[OutboxRecord], key: &str| -> Vec<String> {
        records
            .iter()
            .filter(|r| r.envelope.key == key)
            .map(label)
            .collect()
    };
    assert_eq!(per_key(&claimed, "a"), ["a1", "a2", "a3", "a4"]);
    assert_eq!(per_key(&claimed, "b"), ["b1", "b2"]);
    let sequences: Vec<i64> = claimed.iter().map(|r| r.sequence).collect();
    assert!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "not in sequence order: {sequences:?}"
    );
    stage_committed(backend, &[event(&topic, "a", "a5")]).await;
    assert!(
        claim(backend, "two", t0).await.is_empty(),
        "a row of a key leased by another relay was handed out"
    );

    // a1 fails: a2..a4 are released; b is published. Nothing of key a may go before a1.
    let (a1, rest): (Vec<_>, Vec<_>) = claimed.iter().cloned().partition(|r| label(r) == "a1");
    let retry = Outcome::Retry {
        error: "refused".to_owned(),
        at: at(t0, 60),
    };
    settle_all(backend, "one", t0, &a1, retry).await;
    let (a_rest, b): (Vec<_>, Vec<_>) = rest.into_iter().partition(|r| r.envelope.key == "a");
    settle_all(backend, "one", t0, &a_rest, Outcome::Release).await;
    settle_all(backend, "one", t0, &b, Outcome::Published).await;
    stage_committed(backend, &[event(&topic, "b", "b3")]).await;
    let meanwhile = claim(backend, "two", at(t0, 1)).await;
    assert_eq!(
        labels(&meanwhile),
        ["b3"],
        "key a must wait for a1; key b must not"
    );
    settle_all(backend, "two", at(t0, 1), &meanwhile, Outcome::Published).await;
    let resumed = claim(backend, "two", at(t0, 61)).await;
    assert_eq!(labels(&resumed), ["a1", "a2", "a3", "a4", "a5"]);
}

/// Invariant 4 across hosts: a key's rows follow commit order when the writers' clocks
/// disagree. A writer whose clock runs an hour ahead commits first; then a writer on this
/// host's clock commits more events of the same key, alone and beside another key; then the
/// first again. A backend that numbers rows by the staging clock would number the second
/// writer's rows below the first's and send them first. A backend whose sequences the database
/// assigns has no writer's clock to go wrong: the function says so and checks two writers on
/// one clock.
pub async fn sequences_follow_commit_order_when_another_clock_runs_ahead<B: MarkerStore>(
    store: &B,
) {
    let skewed = store
        .reconnect()
        .await
        .expect("a second handle on the store")
        .with_clock_skew(chrono::TimeDelta::hours(1));
    let ahead = match skewed {
        Some(ahead) => ahead,
        None => {
            eprintln!(
                "sequences_follow_commit_order_when_another_clock_runs_ahead: the database \
                 assigns this backend's sequences, no writer's clock; checking two writers \
                 on one clock"
            );
            store
                .reconnect()
                .await
                .expect("a second handle on the store")
        }
    };
    let topic = unique("skew");
    let (hot, other) = (unique("hot"), unique("other"));
    let commit = async |writer: &B, events: &[(&str, &str)]| {
        let outgoing = events
            .iter()
            .map(|(key, label)| event(&topic, key, label))
            .collect();
        let outcome = run(writer, WorkPlan::commit(&unique("skew"), outgoing)).await;
        assert!(outcome.committed(), "{outcome:?}");
    };
    commit(&ahead, &[(&hot, "h1"), (&other, "o1")]).await;
    commit(store, &[(&hot, "h2")]).await;
    commit(store, &[(&other, "o2"), (&hot, "h3")]).await;
    commit(&ahead, &[(&hot, "h4")]).await;
    let claimed = claim(store.backend(), "relay", Utc::now()).await;
    let of_key = |key: &str| -> Vec<String> {
        claimed
            .iter()
            .filter(|r| r.envelope.key == key)
            .map(label)
            .collect()
    };
    assert_eq!(
        of_key(&hot),
        ["h1", "h2", "h3", "h4"],
        "the rows of a key left out of commit order"
    );
    assert_eq!(of_key(&other), ["o1", "o2"]);
}

/// Invariant 4: rows still leased by a live relay are never handed to another, even when an
/// earlier row of their key has become claimable again (a relay that settled part of a batch).
pub async fn live_leases_are_not_taken_over<B: MarkerStore>(store: &B) {
    let backend = store.backend();
    let topic = unique("partial");
    stage_committed(
        backend,
        &[
            event(&topic, "k", "x1"),
            event(&topic, "k", "x2"),
            event(&topic, "k", "x3"),
        ],
    )
    .await;
    let t0 = Utc::now();
    let held = claim(backend, "one", t0).await;
    assert_eq!(labels(&held), ["x1", "x2", "x3"]);
    let retry = Outcome::Retry {
        error: "refused".to_owned(),
        at: t0,
    };
    settle_all(backend, "one", t0, &held[..1], retry).await;
    // x3 given back while x2 is still being sent: x3 must wait behind x2.
    settle_all(backend, "one", t0, &held[2..], Outcome::Release).await;
    let taken = claim(backend, "two", at(t0, 1)).await;
    assert!(
        labels(&taken) == ["x1"],
        "a live lease was taken over or overtaken: {:?}",
        labels(&taken)
    );
}

/// Invariants 4 and 5: a key held by another relay, with a backlog longer than any page a
/// claim reads at once, neither starves the keys behind it nor has its tail handed out.
pub async fn a_held_key_with_a_long_backlog_starves_nobody<B: MarkerStore>(store: &B) {
    let backend = store.backend();
    let topic = unique("backlog");
    let held: Vec<Envelope> = (1..=250)
        .map(|n| event(&topic, "a", &format!("a{n}")))
        .collect();
    // In several commits: a DynamoDB transaction holds at most 100 items.
    for commit in held.chunks(50) {
        stage_committed(backend, commit).await;
    }
    stage_committed(
        backend,
        &[
            event(&topic, "b", "b1"),
            event(&topic, "b", "b2"),
            event(&topic, "b", "b3"),
        ],
    )
    .await;
    let t0 = Utc::now();
    let first = backend
        .claim_batch(&ClaimRequest::new("one", 1, LEASE).at(t0))
        .await
        .expect("claim_batch failed");
    assert_eq!(labels(&first), ["a1"]);
    let second = backend
        .claim_batch(&ClaimRequest::new("two", 3, LEASE).at(t0))
        .await
        .expect("claim_batch failed");
    assert_eq!(
        labels(&second),
        ["b1", "b2", "b3"],
        "the held key's tail was handed out, or the key behind it starved"
    );
}

/// Invariant 4 with workers sharing keys: a claim limited to `max_keys` takes whole runs of the
/// keys with the earliest heads and leaves the other keys to the next claim.
pub async fn key_shares_split_keys_between_workers<B: MarkerStore>(store: &B) {
    let backend = store.backend();
    let topic = unique("share");
    stage_committed(
        backend,
        &[
            event(&topic, "a", "a1"),
            event(&topic, "b", "b1"),
            event(&topic, "c", "c1"),
            event(&topic, "a", "a2"),
            event(&topic, "b", "b2"),
            event(&topic, "c", "c2"),
        ],
    )
    .await;
    let t0 = Utc::now();
    let share = async |owner: &str| {
        let request = ClaimRequest::new(owner, 1000, LEASE)
            .at(t0)
            .with_max_keys(2);
        backend
            .claim_batch(&request)
            .await
            .expect("claim_batch failed")
    };
    let first = share("one").await;
    assert_eq!(labels(&first), ["a1", "b1", "a2", "b2"], "first share");
    let second = share("two").await;
    assert_eq!(labels(&second), ["c1", "c2"], "second share");
    assert!(share("three").await.is_empty(), "every key is held");
}

/// Invariant 4 with several relays: relays claiming at the same time (small batches, many keys)
/// never hold the same key at once, and every key is published in staging order.
pub async fn concurrent_relays_keep_order_per_key<B: MarkerStore>(store: &B) {
    let backend = store.backend();
    let topic = unique("relays");
    let keys = 12;
    let per_key = 6;
    let mut envelopes = Vec::new();
    for n in 0..per_key {
        for k in 0..keys {
            envelopes.push(event(&topic, &format!("key{k}"), &format!("{n}")));
        }
    }
    for chunk in envelopes.chunks(9) {
        stage_committed(backend, chunk).await;
    }
    let mut published: HashMap<String, Vec<String>> = HashMap::new();
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 200, "relays made no progress");
        let request = |owner: &str| ClaimRequest::new(owner, 7, LEASE);
        let (one, two) = (request("one"), request("two"));
        let (a, b) = tokio::join!(backend.claim_batch(&one), backend.claim_batch(&two));
        let (a, b) = (a.expect("claim"), b.expect("claim"));
        if a.is_empty() && b.is_empty() {
            break;
        }
        let keys_a: std::collections::HashSet<&str> =
            a.iter().map(|r| r.envelope.key.as_str()).collect();
        for record in &b {
            assert!(
                !keys_a.contains(record.envelope.key.as_str()),
                "key {} leased to two relays at once",
                record.envelope.key
            );
        }
        for (owner, records) in [("one", &a), ("two", &b)] {
            for record in records.iter() {
                published
                    .entry(record.envelope.key.clone())
                    .or_default()
                    .push(label(record));
            }
            settle_all(backend, owner, Utc::now(), records, Outcome::Published).await;
        }
    }
    let expected: Vec<String> = (0..per_key).map(|n| n.to_string()).collect();
    assert_eq!(published.len(), keys);
    for (key, order) in &published {
        assert_eq!(order, &expected, "key {key} published out of order");
    }
}
