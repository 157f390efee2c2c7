//! `faults [--short] [--only NAME] [--json FILE]`: the fault suite at full scale (or the short variant CI
//! runs), printing the table and writing it as JSON (default `target/faults.json`). Exits 1 when
//! a scenario failed or none could run. `scripts/faults` builds and runs it with the test servers up.

use std::{path::PathBuf, process::ExitCode};

use tidings_tests::faults::{SCENARIOS, Scale, Suite, table, write_json};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let short = args.iter().any(|a| a == "--short");
    let json = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1))
        .map_or_else(|| PathBuf::from("target/faults.json"), PathBuf::from);
    let daemon = std::env::current_exe()
        .expect("the path of this program")
        .with_file_name("tidings-daemon");
    if !daemon.exists() {
        eprintln!(
            "faults: {} is missing: cargo build -p tidings-tests --bins",
            daemon.display()
        );
        return ExitCode::FAILURE;
    }
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    if let Some(name) = only.as_deref().filter(|name| !SCENARIOS.contains(name)) {
        eprintln!("faults: no scenario is named {name:?}; they are {SCENARIOS:?}");
        return ExitCode::FAILURE;
    }
    let scale = if short { Scale::short() } else { Scale::full() };
    let suite = Suite {
        producer: daemon.with_file_name("counting_producer"),
        daemon,
        scale,
        only,
    };
    let rows = suite.run().await;
    print!("\n{}", table(&rows));
    if let Err(error) = write_json(&json, &suite.scale, &rows) {
        eprintln!("faults: cannot write {}: {error}", json.display());
        return ExitCode::FAILURE;
    }
    println!("written to {}", json.display());
    if !rows.is_empty() && rows.iter().all(|row| row.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
