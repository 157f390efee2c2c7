//! The command line.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};

use crate::config::{Flags, LogFormat, RelayFlags};

/// Tidings: relay a transactional outbox to a broker, and look after it.
///
/// Configuration comes from a TOML or YAML file (--config), then the environment (TIDINGS_… with `__`
/// between sections, such as TIDINGS_RELAY__BATCH_SIZE, the KAFKA_… variables and, with
/// --env-prefix, PREFIX_KAFKA_…), then flags;
/// each overrides the one before. `tidings config check` prints what is in force.
#[derive(Debug, Parser)]
#[command(name = "tidings", version, propagate_version = true)]
pub struct Cli {
    /// A configuration file: TOML, or YAML when it ends in .yaml or .yml. XZepr's Kafka shape
    /// (kafka.brokers, kafka.auth.sasl.*, kafka.auth.ssl.*) and HuleEdu's relay names are read too.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Also read PREFIX_KAFKA_* variables as Kafka settings, over KAFKA_* (XZEPR_KAFKA_SASL_PASSWORD
    /// with XZEPR) (env: TIDINGS_ENV_PREFIX).
    #[arg(long, global = true, value_name = "PREFIX")]
    pub env_prefix: Option<String>,
    /// The outbox: sqlite://FILE, postgres://…, mongodb://… or dynamodb://HOST:PORT (or dynamodb:// for the AWS endpoint)
    /// (config: outbox; env: TIDINGS_OUTBOX; default: sqlite://tidings.db).
    #[arg(long, global = true, value_name = "URL")]
    pub outbox: Option<String>,
    /// Log lines for people (human) or for collectors (json) (config: log_format).
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the relay: claim committed outbox rows, publish them in order per key, settle them;
    /// purge published rows on schedule. SIGTERM or SIGINT stops it after the batch in hand;
    /// a second signal exits at once.
    Relay(RelayArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Create the outbox's tables, collections and indexes (safe to run again), or print them.
    Migrate {
        /// Print the DDL (or index and table definitions) instead of applying it.
        #[arg(long)]
        print: bool,
    },
    /// List, show, retry or purge the events the relay gave up on.
    #[command(subcommand, name = "dead-letters")]
    DeadLetters(crate::dead_letters::DeadLetterCommand),
    /// Send again the events published in a time range, in their original order per key and
    /// with their own ids (idempotent consumers skip what they applied); refused when the range
    /// reaches past what retention keeps. Says how many would go; sends with --yes.
    Replay(crate::replay::ReplayArgs),
    /// Send the persistent publisher's stored events again: those the broker has not taken
    /// (publish-pending), or all of them, or one topic's (republish).
    #[command(subcommand)]
    Persistent(crate::persistent::PersistentCommand),
    /// Show the outbox's rows per topic and status, the age of each topic's oldest pending row
    /// and its last publication.
    Status {
        /// One JSON object (totals and `topics`) instead of a table.
        #[arg(long)]
        json: bool,
        /// Refresh every INTERVAL (default 2s) until interrupted.
        #[arg(long, value_name = "INTERVAL", num_args = 0..=1, default_missing_value = "2s",
              value_parser = parse_duration)]
        watch: Option<Duration>,
    },
}

/// `tidings relay`'s own flags.
#[derive(Debug, Args)]
pub struct RelayArgs {
    /// Where events go: kafka://HOST:PORT,HOST:PORT… or stdout (one structured CloudEvent
    /// per line) (config: broker; env: TIDINGS_BROKER; default: Kafka if KAFKA_BOOTSTRAP_SERVERS
    /// is set, else stdout).
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// Serve /metrics, /health and /ready on ADDR, e.g. 127.0.0.1:9898 (config: http;
    /// env: TIDINGS_HTTP).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// Create the outbox's tables, collections and indexes first, as `tidings migrate` does
    /// (config: relay.migrate).
    #[arg(long)]
    pub migrate: bool,
}

/// `tidings config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the configuration in force, secrets hidden; fail on an unknown key or a bad
    /// value, naming it.
    Check(RelayArgs),
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{text:?} is not a duration like 2s: {e}"))
}

impl Cli {
    /// The values given as flags.
    pub fn flags(&self) -> Flags {
        let relay = match &self.command {
            Command::Relay(args) | Command::Config(ConfigCommand::Check(args)) => Some(args),
            _ => None,
        };
        let broker = match &self.command {
            Command::Replay(args) => args.broker.clone(),
            Command::Persistent(command) => command.broker(),
            _ => relay.and_then(|r| r.broker.clone()),
        };
        Flags {
            outbox: self.outbox.clone(),
            broker,
            http: relay.and_then(|r| r.http.clone()),
            log_format: self.log_format,
            relay: RelayFlags {
                migrate: relay.and_then(|r| r.migrate.then_some(true)),
            },
            env_prefix: self.env_prefix.clone(),
        }
    }
}
