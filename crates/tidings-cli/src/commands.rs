//! The operator commands: `config check`, `migrate`, `status`.

use std::{io::IsTerminal, time::Duration};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tidings::TopicStats;

use crate::{
    broker::Broker, config::Settings, daemon::default_outbox, error::CliError, outbox::Outbox,
};

/// `tidings config check`: the effective configuration, secrets shown as `***`. A bad or
/// unknown key never gets here: loading the configuration fails first, naming it.
pub fn config_check(settings: &Settings) -> Result<(), CliError> {
    let broker = Broker::of(settings)?;
    let mut shown = settings.clone();
    shown.broker = Some(broker.describe());
    shown.outbox = Some(crate::outbox::redacted(
        &settings.outbox.clone().unwrap_or_else(default_outbox),
    ));
    print!("{}", shown.to_toml());
    Ok(())
}

/// The configured outbox, opened.
pub async fn open(settings: &Settings) -> Result<Outbox, CliError> {
    let url = settings.outbox.clone().unwrap_or_else(default_outbox);
    Outbox::open(&url, settings).await
}

/// `tidings migrate`: creates the backend's tables, collections and indexes; with `print`,
/// prints what it would create instead.
pub async fn migrate(settings: &Settings, print: bool) -> Result<(), CliError> {
    let outbox = open(settings).await?;
    if print {
        println!("{}", outbox.migration().trim_end());
        return Ok(());
    }
    outbox
        .migrate()
        .await
        .map_err(CliError::tidings("migrating the outbox"))?;
    println!("migrated: the outbox's tables, collections and indexes exist");
    Ok(())
}

/// What `status` reports: totals, then each topic.
#[derive(Debug, Serialize)]
struct Status {
    pending: u64,
    leased: u64,
    published: u64,
    dead: u64,
    topics: Vec<TopicStatus>,
}

/// One topic's line of `status`.
#[derive(Debug, Serialize)]
struct TopicStatus {
    topic: String,
    pending: u64,
    leased: u64,
    published: u64,
    dead: u64,
    /// Seconds since the oldest pending row was staged.
    oldest_pending_age_seconds: Option<i64>,
    /// When the last row (of those retention kept) was published.
    last_published: Option<DateTime<Utc>>,
}

impl Status {
    fn of(topics: Vec<TopicStats>, now: DateTime<Utc>) -> Self {
        let topics: Vec<TopicStatus> = topics
            .into_iter()
            .map(|t| TopicStatus {
                pending: t.counts.pending,
                leased: t.counts.leased,
                published: t.counts.published,
                dead: t.counts.dead,
                oldest_pending_age_seconds: t.oldest_pending.map(|at| (now - at).num_seconds()),
                last_published: t.last_published,
                topic: t.topic,
            })
            .collect();
        Self {
            pending: topics.iter().map(|t| t.pending).sum(),
            leased: topics.iter().map(|t| t.leased).sum(),
            published: topics.iter().map(|t| t.published).sum(),
            dead: topics.iter().map(|t| t.dead).sum(),
            topics,
        }
    }
}

/// `tidings status`: rows per topic and status, the age of each topic's oldest pending row and
/// its last publication, as a table or JSON; with `watch`, again every interval, in place on a
/// terminal.
pub async fn status(
    settings: &Settings,
    json: bool,
    watch: Option<Duration>,
) -> Result<(), CliError> {
    let outbox = open(settings).await?;
    let terminal = std::io::stdout().is_terminal();
    loop {
        let topics = outbox
            .topic_stats()
            .await
            .map_err(CliError::tidings("reading the outbox's counts"))?;
        let status = Status::of(topics, Utc::now());
        if watch.is_some() && terminal {
            // Clear the screen and go home, so the table refreshes in place.
            print!("\x1b[2J\x1b[H");
        }
        if json {
            println!("{}", serde_json::to_string(&status).unwrap_or_default());
        } else {
            print_table(&status);
        }
        let Some(interval) = watch else {
            return Ok(());
        };
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

fn print_table(status: &Status) {
    println!(
        "{:<32} {:>10} {:>8} {:>10} {:>8}  {:<16} last published",
        "topic", "pending", "leased", "published", "dead", "oldest pending"
    );
    for t in &status.topics {
        let age = t.oldest_pending_age_seconds.map_or_else(String::new, |s| {
            humantime::format_duration(Duration::from_secs(s.max(0).unsigned_abs())).to_string()
        });
        let last = t.last_published.map_or_else(String::new, |at| {
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        });
        println!(
            "{:<32} {:>10} {:>8} {:>10} {:>8}  {age:<16} {last}",
            t.topic, t.pending, t.leased, t.published, t.dead
        );
    }
    println!(
        "{:<32} {:>10} {:>8} {:>10} {:>8}",
        "total", status.pending, status.leased, status.published, status.dead
    );
}
