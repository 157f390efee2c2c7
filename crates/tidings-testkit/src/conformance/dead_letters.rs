//! Invariant 5, poison: a row that keeps failing goes to dead letters without blocking other
//! keys; an operator lists, retries and purges them.

use super::common::*;

/// Invariant 5: a message that keeps failing is dead-lettered with its last error, holds back
/// neither other keys nor (once dead) the later rows of its own key, and an operator can list,
/// retry and purge it.
pub async fn poison_goes_to_dead_letters<B: MarkerStore>(store: &B) {
    let backend = store.backend();
    let (t0, dead) = failing_key_holds_back_only_itself(backend).await;
    dead_letter_releases_its_key(backend, t0, &dead).await;
    operator_lists_retries_and_purges(backend, t0, dead).await;
}

/// p1 fails and waits for its retry; the rest of key p is released; key o goes on. Returns the
/// time the rows were first claimed and the outcome p1 will end with.
async fn failing_key_holds_back_only_itself<B: OutboxRepository>(
    backend: &B,
) -> (DateTime<Utc>, Outcome) {
    let topic = unique("poison");
    // More rows behind the poison than one claim takes: they must not crowd out other keys.
    let mut staged: Vec<Envelope> = (1..=5)
        .map(|n| event(&topic, "p", &format!("p{n}")))
        .collect();
    staged.push(event(&topic, "o", "o1"));
    stage_committed(backend, &staged).await;
    let t0 = Utc::now();
    let claimed = claim(backend, "relay", t0).await;
    assert_eq!(labels(&claimed), ["p1", "p2", "p3", "p4", "p5", "o1"]);
    let retry = Outcome::Retry {
        error: "attempt 1".to_owned(),
        at: at(t0, 600),
    };
    settle_all(backend, "relay", t0, &claimed[..1], retry).await;
    settle_all(backend, "relay", t0, &claimed[1..5], Outcome::Release).await;
    settle_all(backend, "relay", t0, &claimed[5..], Outcome::Published).await;
    stage_committed(backend, &[event(&topic, "o", "o2")]).await;
    let small = ClaimRequest::new("relay", 2, LEASE).at(at(t0, 1));
    let others = backend
        .claim_batch(&small)
        .await
        .expect("claim_batch failed");
    assert_eq!(
        labels(&others),
        ["o2"],
        "a failing key held back another key"
    );
    settle_all(backend, "relay", at(t0, 1), &others, Outcome::Published).await;
    let dead = Outcome::DeadLetter {
        error: "attempt 2: schema rejected".to_owned(),
    };
    (t0, dead)
}

/// p1 fails again and is dead-lettered: the rest of key p goes on without it.
async fn dead_letter_releases_its_key<B: OutboxRepository>(
    backend: &B,
    t0: DateTime<Utc>,
    dead: &Outcome,
) {
    let again = claim(backend, "relay", at(t0, 600)).await;
    assert_eq!(labels(&again), ["p1", "p2", "p3", "p4", "p5"]);
    settle_all(backend, "relay", at(t0, 600), &again[..1], dead.clone()).await;
    settle_all(backend, "relay", at(t0, 600), &again[1..], Outcome::Release).await;
    let after = claim(backend, "relay", at(t0, 601)).await;
    assert_eq!(
        labels(&after),
        ["p2", "p3", "p4", "p5"],
        "a dead letter blocked the rest of its key"
    );
    settle_all(backend, "relay", at(t0, 601), &after, Outcome::Published).await;
}

/// The dead letter is listed with its last error, retried (attempts reset) and purged.
async fn operator_lists_retries_and_purges<B: OutboxRepository + DeadLetterRepository>(
    backend: &B,
    t0: DateTime<Utc>,
    dead: Outcome,
) {
    let listed = backend
        .list_dead_letters(&DeadLetterQuery::first(10))
        .await
        .expect("list_dead_letters");
    assert_eq!(labels(&listed), ["p1"]);
    assert_eq!(listed[0].status, RecordStatus::Dead);
    assert_eq!(listed[0].attempts, 2);
    assert_eq!(
        listed[0].last_error.as_deref(),
        Some("attempt 2: schema rejected")
    );
    let next_page = backend
        .list_dead_letters(&DeadLetterQuery::first(10).after(listed[0].sequence))
        .await
        .expect("list_dead_letters");
    assert!(next_page.is_empty());
    assert_eq!(backend.stats().await.expect("stats").dead, 1);

    let retried = backend
        .retry_dead_letters(&ids(&listed), at(t0, 602))
        .await
        .expect("retry_dead_letters");
    assert_eq!(retried, 1);
    let back = claim(backend, "relay", at(t0, 602)).await;
    assert_eq!(
        labels(&back),
        ["p1"],
        "a retried dead letter did not come back"
    );
    assert_eq!(
        back[0].attempts, 0,
        "retrying a dead letter resets its attempts"
    );
    settle_all(backend, "relay", at(t0, 602), &back, dead).await;
    let purged = backend
        .purge_dead_letters(&ids(&back))
        .await
        .expect("purge_dead_letters");
    assert_eq!(purged, 1);
    let left = backend
        .list_dead_letters(&DeadLetterQuery::first(10))
        .await
        .expect("list_dead_letters");
    assert!(left.is_empty(), "purged dead letters are still listed");
}
