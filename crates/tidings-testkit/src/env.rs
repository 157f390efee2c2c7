//! Test servers from the environment, names no other test uses, and bounded waits.

use std::{future::Future, time::Duration};

/// Whether this run is under CI (`CI=true` or `CI=1`), where a missing server is a failure.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The address of a test server from environment variable `var`. Without it the test says so
/// and is skipped (`None`), except under CI, where a missing server is a failure.
pub fn server_from_env(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Some(value),
        _ if under_ci() => {
            panic!("{var} is not set under CI: start the servers with scripts/services up")
        }
        _ => {
            eprintln!(
                "skipped: {var} is not set (run `eval \"$(scripts/services env)\"` after `scripts/services up`)"
            );
            None
        }
    }
}

/// A name no other test uses, for topics, keys and markers.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    format!("{prefix}-{}", &id[id.len() - 12..])
}

/// A [`unique`] name that is also an identifier (`_` for `-`): a schema, a database, a table
/// prefix.
pub fn unique_ident(prefix: &str) -> String {
    unique(prefix).replace('-', "_")
}

/// Awaits `future`, failing the test with `what` if it takes longer than `limit`.
pub async fn within<T>(what: &str, limit: Duration, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: not within {limit:?}"),
    }
}

/// Asks `probe` every `every` until it answers `Some`, failing the test with `what` after
/// `limit`. For conditions nothing notifies about (a row count, a process's output).
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, every: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(what, limit, async {
        loop {
            if let Some(value) = probe().await {
                return value;
            }
            tokio::time::sleep(every).await;
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_identifiers_have_no_dash() {
        assert_ne!(unique("t"), unique("t"));
        assert!(unique_ident("a-b").chars().all(|c| c != '-'));
    }

    #[tokio::test]
    async fn eventually_returns_the_first_answer() {
        let mut asked = 0;
        let answer = eventually("three asks", Duration::from_secs(5), Duration::ZERO, || {
            asked += 1;
            let ready = asked == 3;
            async move { ready.then_some(asked) }
        })
        .await;
        assert_eq!(answer, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "never: not within")]
    async fn eventually_fails_after_its_limit() {
        eventually(
            "never",
            Duration::from_millis(20),
            Duration::from_millis(5),
            || async { None::<()> },
        )
        .await;
    }
}
