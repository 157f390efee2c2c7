//! `tidings dead-letters list | show | retry | purge`: the events the relay gave up on,
//! filtered by topic, key, type and time staged. `retry` and `purge` say how many rows they
//! will touch and change nothing without `--yes`.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde::Serialize;
use tidings::{DeadLetterQuery, DeadLetterRepository, MessageId, OutboxRecord};

use crate::{error::CliError, outbox::Outbox, with_backend};

/// Rows read per page while filtering.
const PAGE: usize = 500;

/// `tidings dead-letters …`.
#[derive(Debug, Subcommand)]
pub enum DeadLetterCommand {
    /// List dead letters, oldest first.
    List {
        /// Which dead letters.
        #[command(flatten)]
        filter: Filter,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one dead letter whole: its event, attempts and last error.
    Show {
        /// The event id.
        id: String,
    },
    /// Make the matching dead letters pending again (attempts reset); the relay sends them.
    Retry(Change),
    /// Delete the matching dead letters.
    Purge(Change),
}

/// Which dead letters a command is about.
#[derive(Debug, Args)]
pub struct Filter {
    /// Only events of this topic.
    #[arg(long)]
    pub topic: Option<String>,
    /// Only events of this partition key.
    #[arg(long)]
    pub key: Option<String>,
    /// Only events of this type.
    #[arg(long = "type", value_name = "TYPE")]
    pub message_type: Option<String>,
    /// Only events staged at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00Z).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<DateTime<Utc>>,
    /// Only events staged before this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub to: Option<DateTime<Utc>>,
}

/// What `retry` and `purge` take.
#[derive(Debug, Args)]
pub struct Change {
    /// Which dead letters.
    #[command(flatten)]
    pub filter: Filter,
    /// Change the rows (without it, or with --dry-run, only say how many would change).
    #[arg(long, conflicts_with = "dry_run")]
    pub yes: bool,
    /// Only say how many rows would change.
    #[arg(long)]
    pub dry_run: bool,
}

pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{text:?} is not an RFC 3339 time like 2026-12-01T00:00:00Z: {e}"))
}

impl Filter {
    fn check(&self) -> Result<(), CliError> {
        match (self.from, self.to) {
            (Some(from), Some(to)) if from >= to => Err(CliError::Config(format!(
                "--from {from} is not before --to {to}"
            ))),
            _ => Ok(()),
        }
    }

    fn admits(&self, record: &OutboxRecord) -> bool {
        let envelope = &record.envelope;
        self.topic.as_ref().is_none_or(|t| *t == envelope.topic)
            && self.key.as_ref().is_none_or(|k| *k == envelope.key)
            && self
                .message_type
                .as_ref()
                .is_none_or(|t| *t == envelope.message_type)
            && self.from.is_none_or(|from| record.created_at >= from)
            && self.to.is_none_or(|to| record.created_at < to)
    }
}

/// Every dead letter `filter` admits, oldest first.
async fn matching(outbox: &Outbox, filter: &Filter) -> Result<Vec<OutboxRecord>, CliError> {
    let mut found = Vec::new();
    let mut after = None;
    loop {
        let mut query = DeadLetterQuery::first(PAGE);
        if let Some(sequence) = after {
            query = query.after(sequence);
        }
        let page = with_backend!(outbox, backend => backend.list_dead_letters(&query).await)
            .map_err(CliError::tidings("listing dead letters"))?;
        after = page.last().map(|r| r.sequence);
        let done = page.len() < PAGE;
        found.extend(page.into_iter().filter(|r| filter.admits(r)));
        if done {
            return Ok(found);
        }
    }
}

/// A dead letter as `list --json` and `show` print it.
#[derive(Serialize)]
struct Shown<'a> {
    id: &'a str,
    topic: &'a str,
    key: &'a str,
    #[serde(rename = "type")]
    message_type: &'a str,
    sequence: i64,
    attempts: u32,
    last_error: Option<&'a str>,
    created_at: String,
    content_type: &'a str,
    payload: String,
}

fn shown(record: &OutboxRecord) -> Shown<'_> {
    let envelope = &record.envelope;
    Shown {
        id: envelope.id.as_str(),
        topic: &envelope.topic,
        key: &envelope.key,
        message_type: &envelope.message_type,
        sequence: record.sequence,
        attempts: record.attempts,
        last_error: record.last_error.as_deref(),
        created_at: record.created_at.to_rfc3339(),
        content_type: &envelope.content_type,
        payload: String::from_utf8_lossy(&envelope.payload).into_owned(),
    }
}

/// Runs a `dead-letters` command.
pub async fn run(outbox: &Outbox, command: DeadLetterCommand) -> Result<(), CliError> {
    match command {
        DeadLetterCommand::List { filter, json } => list(outbox, &filter, json).await,
        DeadLetterCommand::Show { id } => show(outbox, &id).await,
        DeadLetterCommand::Retry(change) => apply(outbox, change, Action::Retry).await,
        DeadLetterCommand::Purge(change) => apply(outbox, change, Action::Purge).await,
    }
}

async fn list(outbox: &Outbox, filter: &Filter, json: bool) -> Result<(), CliError> {
    filter.check()?;
    let found = matching(outbox, filter).await?;
    if json {
        for record in &found {
            println!(
                "{}",
                serde_json::to_string(&shown(record)).unwrap_or_default()
            );
        }
        return Ok(());
    }
    println!(
        "{:<36}  {:<20}  {:<16}  {:<24}  {:>8}  last error",
        "id", "topic", "key", "type", "attempts"
    );
    for record in &found {
        let envelope = &record.envelope;
        println!(
            "{:<36}  {:<20}  {:<16}  {:<24}  {:>8}  {}",
            envelope.id,
            envelope.topic,
            envelope.key,
            envelope.message_type,
            record.attempts,
            record.last_error.as_deref().unwrap_or("")
        );
    }
    println!("{} dead letters", found.len());
    Ok(())
}

async fn show(outbox: &Outbox, id: &str) -> Result<(), CliError> {
    let all = matching(outbox, &Filter::everything()).await?;
    let record = all
        .iter()
        .find(|r| r.envelope.id.as_str() == id)
        .ok_or_else(|| CliError::Config(format!("no dead letter has the id {id:?}")))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&shown(record)).unwrap_or_default()
    );
    Ok(())
}

#[derive(Clone, Copy)]
enum Action {
    Retry,
    Purge,
}

async fn apply(outbox: &Outbox, change: Change, action: Action) -> Result<(), CliError> {
    change.filter.check()?;
    let ids: Vec<MessageId> = matching(outbox, &change.filter)
        .await?
        .into_iter()
        .map(|r| r.envelope.id)
        .collect();
    let verb = match action {
        Action::Retry => "retry",
        Action::Purge => "purge",
    };
    if !change.yes {
        println!(
            "would {verb} {} dead letters; run again with --yes to do it",
            ids.len()
        );
        return Ok(());
    }
    let changed = with_backend!(outbox, backend => match action {
        Action::Retry => backend.retry_dead_letters(&ids, Utc::now()).await,
        Action::Purge => backend.purge_dead_letters(&ids).await,
    })
    .map_err(CliError::tidings(format!("{verb}ing dead letters")))?;
    println!("{verb}: {changed} of {} dead letters", ids.len());
    Ok(())
}

impl Filter {
    fn everything() -> Self {
        Self {
            topic: None,
            key: None,
            message_type: None,
            from: None,
            to: None,
        }
    }
}
