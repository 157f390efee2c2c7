//! The `tidings` binary, as a library so its pieces can be tested: the configuration loader,
//! the outbox named by a URL, the broker (Kafka or the `stdout` sink), the HTTP listener, the
//! relay daemon and the operator commands.

#[cfg(not(any(
    feature = "sqlite",
    feature = "postgres",
    feature = "mongodb",
    feature = "dynamodb"
)))]
compile_error!(
    "tidings-cli needs at least one backend feature: sqlite, postgres, mongodb or dynamodb"
);

pub mod broker;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod dead_letters;
pub mod error;
pub mod http;
pub mod outbox;
pub mod persistent;
pub mod replay;
pub mod stdout;
pub mod telemetry;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command, ConfigCommand};
use error::CliError;

/// The binary: parses the command line, runs the command, and turns an error into one line on
/// standard error and exit code 1. (The fault suite builds a copy of the binary from this.)
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tidings: {}", chain(&error));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let settings = config::load(cli.config.as_deref(), &cli.flags())?;
    let telemetry = telemetry::init(&settings)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::io("starting the runtime"))?;
    let result = runtime.block_on(async {
        match cli.command {
            Command::Relay(_) => daemon::run(settings).await,
            Command::Config(ConfigCommand::Check(_)) => commands::config_check(&settings),
            Command::Migrate { print } => commands::migrate(&settings, print).await,
            Command::Status { json, watch } => commands::status(&settings, json, watch).await,
            Command::Replay(args) => replay::run(&settings, &args).await,
            Command::Persistent(command) => persistent::run(&settings, &command).await,
            Command::DeadLetters(command) => {
                let outbox = commands::open(&settings).await?;
                dead_letters::run(&outbox, command).await
            }
        }
    });
    // The exporter's last batch goes out after the runtime has stopped.
    drop(runtime);
    telemetry.shutdown();
    result
}

/// The error and its causes on one line (a cause its parent already quotes is left out).
fn chain(error: &dyn std::error::Error) -> String {
    let mut line = one_line(&error.to_string());
    let mut source = error.source();
    while let Some(cause) = source {
        let text = one_line(&cause.to_string());
        if !line.contains(&text) {
            line = format!("{line}: {text}");
        }
        source = cause.source();
    }
    line
}

/// A message that spans lines (a TOML parser's, with the offending line quoted and a caret
/// under it) as one line: the quote and the caret go, the rest is joined.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .filter(|line| {
            let quoted = line
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start();
            !quoted.starts_with('|')
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn a_toml_parse_error_becomes_one_line() {
        let text = "TOML parse error at line 1, column 7\n  |\n1 | [relay\n  |       ^\n\
                    invalid table header\nexpected `.`, `]`\n in bad.toml TOML file";
        assert_eq!(
            one_line(text),
            "TOML parse error at line 1, column 7 invalid table header expected `.`, `]` \
             in bad.toml TOML file"
        );
    }
}
