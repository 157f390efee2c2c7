//! Runs the user service's scenario and prints the topics and events that came out through the
//! relay. Configured from the variables of `tidings::events::config::VARIABLES` where they are
//! set (`SERVICE_NAME`, `EVENT_TOPIC_PREFIX`, …), else as `marty` / `user-service`. Exits 0
//! only if every event expected, and no other, came out.

use std::process::ExitCode;

use tidings::events::{EventConfig, config::VARIABLES};

fn config() -> Result<EventConfig, tidings::events::EventError> {
    let defaults = [
        ("SERVICE_NAME", "user-service"),
        ("SERVICE_VERSION", "1.0.0"),
        ("EVENT_TOPIC_PREFIX", "marty"),
        ("USE_OUTBOX_PATTERN", "true"),
    ];
    let mut vars: Vec<(String, String)> = defaults
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    vars.extend(
        VARIABLES
            .iter()
            .filter_map(|name| Some(((*name).to_owned(), std::env::var(name).ok()?))),
    );
    EventConfig::from_vars(vars)
}

#[tokio::main]
async fn main() -> ExitCode {
    let outcome = match config() {
        Ok(config) => user_service::run(&config).await,
        Err(e) => Err(e.into()),
    };
    let report = match outcome {
        Ok(report) => report,
        Err(e) => {
            eprintln!("user-service failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{report}");
    let problems = report.problems();
    if problems.is_empty() {
        println!("every expected event came out, and no other");
        ExitCode::SUCCESS
    } else {
        for problem in problems {
            eprintln!("mismatch: {problem}");
        }
        ExitCode::FAILURE
    }
}
