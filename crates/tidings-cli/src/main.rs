//! `tidings`: the relay daemon and the operator commands (see `tidings --help`).

use std::process::ExitCode;

use clap::Parser;
use tidings_cli::{
    cli::{Cli, Command, ConfigCommand},
    commands, config, daemon,
    error::CliError,
    init_logging,
};

fn main() -> ExitCode {
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
    init_logging(settings.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::io("starting the runtime"))?;
    runtime.block_on(async {
        match cli.command {
            Command::Relay(_) => daemon::run(settings).await,
            Command::Config(ConfigCommand::Check(_)) => commands::config_check(&settings),
            Command::Migrate { print } => commands::migrate(&settings, print).await,
            Command::Status { json, watch } => commands::status(&settings, json, watch).await,
            Command::DeadLetters(command) => {
                let outbox = commands::open(&settings).await?;
                tidings_cli::dead_letters::run(&outbox, command).await
            }
        }
    })
}

/// The error and its causes on one line (a cause its parent already quotes is left out).
fn chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line = format!("{line}: {text}");
        }
        source = cause.source();
    }
    line
}
