//! Bad input to the daemon and the commands: each case must end with one line on standard
//! error naming what was wrong, exit code 1, and the outbox as it was.

use std::{process::Output, time::Instant};

use tidings::OutboxRepository;
use tidings_testkit::server_from_env;

use super::{Row, Suite, Tally};
use crate::Pipeline;

/// One bad invocation and the text its error line must contain.
struct Case {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
    names: String,
}

fn cases(database: &str, config: &str) -> Vec<Case> {
    let outbox = |rest: &[&str]| {
        let mut args = vec!["--outbox".to_owned(), database.to_owned()];
        args.extend(rest.iter().map(|a| (*a).to_owned()));
        args
    };
    let missing = uuid_like();
    vec![
        Case {
            name: "malformed config file",
            args: vec!["--config".into(), config.into(), "relay".into()],
            env: vec![],
            names: "bad.toml".into(),
        },
        Case {
            name: "unreachable database",
            args: vec![
                "--outbox".into(),
                "postgres://app:secret@127.0.0.1:9/shop".into(),
                "status".into(),
            ],
            env: vec![],
            names: "127.0.0.1:9".into(),
        },
        Case {
            name: "unknown backend scheme",
            args: vec![
                "--outbox".into(),
                "redis://cache:6379".into(),
                "relay".into(),
            ],
            env: vec![],
            names: "redis".into(),
        },
        Case {
            name: "bad value in the environment",
            args: outbox(&["relay"]),
            env: vec![("TIDINGS_RELAY__BATCH_SIZE", "lots")],
            names: "lots".into(),
        },
        Case {
            name: "--from after --to",
            args: outbox(&[
                "replay",
                "--from",
                "2026-12-02T00:00:00Z",
                "--to",
                "2026-12-01T00:00:00Z",
            ]),
            env: vec![],
            names: "--from".into(),
        },
        Case {
            name: "dead letter that does not exist",
            args: outbox(&["dead-letters", "show", &missing]),
            env: vec![],
            names: missing.clone(),
        },
    ]
}

fn uuid_like() -> String {
    format!("01234567-89ab-7def-8123-{:012x}", fastrand::u64(..1 << 48))
}

/// What is wrong with `output` as a refusal naming `names`, if anything.
fn judge(output: &Output, names: &str) -> Option<String> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    if output.status.code() != Some(1) {
        return Some(format!("exit {:?}", output.status.code()));
    }
    match lines.as_slice() {
        [line] if line.contains(names) && !line.contains("secret") => None,
        [line] => Some(format!(
            "{line:?} does not name {names:?} (or shows a secret)"
        )),
        _ => Some(format!("{} lines: {stderr}", lines.len())),
    }
}

/// Runs every case against a PostgreSQL outbox holding ten pending rows.
pub(super) async fn bad_input(suite: &Suite) -> Option<Row> {
    let pipeline = Pipeline::new(None).await?;
    let database = server_from_env("DATABASE_URL")?;
    pipeline.produce(2, 5).await;
    let before = pipeline.backend.stats().await.expect("stats");
    let dir = tempfile::tempdir().expect("a directory");
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[relay\nworkers = 2\n").expect("write the config");
    let started = Instant::now();
    let mut failures = Vec::new();
    let all = cases(&database, &config.display().to_string());
    for case in &all {
        let output = tokio::process::Command::new(&suite.daemon)
            .args(&case.args)
            .envs(case.env.iter().copied())
            .env("TIDINGS_POSTGRES__SCHEMA", pipeline.schema())
            .env_remove("TIDINGS_OUTBOX")
            .output()
            .await
            .expect("run the binary");
        if let Some(wrong) = judge(&output, &case.names) {
            failures.push(format!("{}: {wrong}", case.name));
        }
    }
    let after = pipeline.backend.stats().await.expect("stats");
    if after != before {
        failures.push(format!("the outbox changed: {before:?} -> {after:?}"));
    }
    pipeline.clean_up().await;
    let seconds = started.elapsed().as_secs_f64();
    let tally = Tally {
        expected: all.len(),
        delivered: all.len() - failures.len().min(all.len()),
        ..Tally::default()
    };
    let detail = if failures.is_empty() {
        "each one line naming the bad value, exit 1, outbox unchanged".to_owned()
    } else {
        failures.join("; ")
    };
    let passed = failures.is_empty();
    Some(Row::of(
        "bad input, 6 cases",
        &tally,
        seconds,
        detail,
        passed,
    ))
}
