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
pub mod stdout;

use std::io::IsTerminal;

use config::LogFormat;

/// Sends log lines to standard error (standard output carries the `stdout` sink's events):
/// for people, coloured on a terminal, or one JSON object per line. `RUST_LOG` filters them
/// (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}
