//! The short fault suite (see `tidings_tests::faults`), under `scripts/test`: the daemon as an
//! OS process killed, starved of its broker and its database, crowded, raced and fed bad input,
//! against the real servers. `scripts/faults` runs the full one and prints the same table.

use tidings_tests::faults::{SCENARIOS, Scale, Suite, table, write_json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_loses_nothing_and_keeps_order_under_faults() {
    let suite = Suite {
        daemon: env!("CARGO_BIN_EXE_tidings-daemon").into(),
        producer: env!("CARGO_BIN_EXE_counting_producer").into(),
        scale: Scale::short(),
        only: None,
    };
    let rows = suite.run().await;
    let report = table(&rows);
    println!("{report}");
    let json = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("faults-short.json");
    write_json(&json, &suite.scale, &rows).expect("write the JSON report");
    if rows.is_empty() {
        return; // no server configured, each scenario said so (a failure under CI)
    }
    let missing: Vec<&str> = SCENARIOS
        .into_iter()
        .filter(|name| !rows.iter().any(|row| row.kind == *name))
        .collect();
    assert!(missing.is_empty(), "did not run: {missing:?}\n{report}");
    let failed: Vec<&str> = rows
        .iter()
        .filter(|row| !row.passed)
        .map(|row| row.scenario.as_str())
        .collect();
    assert!(failed.is_empty(), "failed: {failed:?}\n{report}");
}
