//! `tidings replay`: sends again the events published in a time range, in their original order
//! per key (sequence order) and with their own ids, so idempotent consumers skip what they
//! applied before. A range that reaches past what retention keeps is refused: its oldest rows
//! may be gone, and a replay with holes would look whole.

use std::io::IsTerminal;

use chrono::{DateTime, TimeDelta, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tidings::{DynEventPublisher, OutboxRecord, PublishedQuery};

use crate::{
    broker::Broker, config::Settings, dead_letters::parse_time, error::CliError, outbox::Outbox,
};

/// Rows read per page.
const PAGE: usize = 500;

/// `tidings replay`'s arguments.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Events published at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00Z).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: DateTime<Utc>,
    /// Events published before this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub to: DateTime<Utc>,
    /// Only events of this topic.
    #[arg(long)]
    pub topic: Option<String>,
    /// Only events of this partition key.
    #[arg(long)]
    pub key: Option<String>,
    /// Only events of this type.
    #[arg(long = "type", value_name = "TYPE")]
    pub message_type: Option<String>,
    /// Where to send them: kafka://HOST:PORT,… or stdout (config: broker; env: TIDINGS_BROKER).
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// Send them (without it, or with --dry-run, only say how many would go).
    #[arg(long, conflicts_with = "dry_run")]
    pub yes: bool,
    /// Only say how many events would be sent.
    #[arg(long)]
    pub dry_run: bool,
}

impl ReplayArgs {
    fn admits(&self, record: &OutboxRecord) -> bool {
        let envelope = &record.envelope;
        self.topic.as_ref().is_none_or(|t| *t == envelope.topic)
            && self.key.as_ref().is_none_or(|k| *k == envelope.key)
            && self
                .message_type
                .as_ref()
                .is_none_or(|t| *t == envelope.message_type)
    }

    /// Refuses a range that is empty or reaches past what `retention` keeps.
    fn check(
        &self,
        retention: Option<std::time::Duration>,
        now: DateTime<Utc>,
    ) -> Result<(), CliError> {
        if self.from >= self.to {
            return Err(CliError::Config(format!(
                "--from {} is not before --to {}",
                rfc3339(self.from),
                rfc3339(self.to)
            )));
        }
        let Some(retention) = retention else {
            return Ok(());
        };
        let kept_since = TimeDelta::from_std(retention)
            .ok()
            .and_then(|kept| now.checked_sub_signed(kept));
        match kept_since {
            Some(since) if self.from < since => Err(CliError::Config(format!(
                "--from {} reaches past what retention keeps ({}: rows published before {} may \
                 be purged); nothing was sent",
                rfc3339(self.from),
                humantime::format_duration(retention),
                rfc3339(since)
            ))),
            _ => Ok(()),
        }
    }
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Runs `tidings replay`.
pub async fn run(settings: &Settings, args: &ReplayArgs) -> Result<(), CliError> {
    args.check(settings.relay.retention, Utc::now())?;
    let outbox = crate::commands::open(settings).await?;
    let total = count(&outbox, args).await?;
    if !args.yes {
        println!(
            "would replay {total} events published from {} to {}; run again with --yes to send them",
            rfc3339(args.from),
            rfc3339(args.to)
        );
        return Ok(());
    }
    let broker = Broker::of(settings)?;
    let publisher = broker.publisher(settings)?;
    let sent = send(&outbox, args, publisher.as_ref(), total).await?;
    // Standard error: with the `stdout` broker, standard output carries the events.
    eprintln!("replayed {sent} events to {}", broker.describe());
    Ok(())
}

/// Pages through the range, calling `each` with the admitted rows of every page.
async fn pages(
    outbox: &Outbox,
    args: &ReplayArgs,
    mut each: impl AsyncFnMut(Vec<OutboxRecord>) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let mut query = PublishedQuery::between(args.from, args.to, PAGE);
    loop {
        let page = outbox
            .list_published(&query)
            .await
            .map_err(CliError::tidings("reading published events"))?;
        let done = page.len() < PAGE;
        if let Some(last) = page.last() {
            query = query.after(last.sequence);
        }
        each(page.into_iter().filter(|r| args.admits(r)).collect()).await?;
        if done {
            return Ok(());
        }
    }
}

async fn count(outbox: &Outbox, args: &ReplayArgs) -> Result<u64, CliError> {
    let mut total = 0;
    pages(outbox, args, async |rows| {
        total += rows.len() as u64;
        Ok(())
    })
    .await?;
    Ok(total)
}

/// Sends the range page by page; stops at the first event the broker refuses, since a later
/// event of its key must not go before it.
async fn send(
    outbox: &Outbox,
    args: &ReplayArgs,
    publisher: &dyn DynEventPublisher,
    total: u64,
) -> Result<u64, CliError> {
    let progress = Progress::new(total);
    let mut sent = 0;
    pages(outbox, args, async |rows| {
        let envelopes: Vec<_> = rows.into_iter().map(|r| r.envelope).collect();
        let results = publisher.publish_batch_boxed(&envelopes).await;
        for (envelope, result) in envelopes.iter().zip(results) {
            result.map_err(|error| {
                CliError::Config(format!(
                    "the broker refused event {} after {sent} of {total} were sent: {error}",
                    envelope.id
                ))
            })?;
            sent += 1;
        }
        progress.advance(sent);
        Ok(())
    })
    .await?;
    progress.finish();
    Ok(sent)
}

/// A progress bar on a terminal; a line per page otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
}

impl Progress {
    fn new(total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {pos}/{len} events {per_sec} {eta}")
            {
                bar.set_style(style);
            }
            bar
        });
        Self { bar, total }
    }

    fn advance(&self, sent: u64) {
        match &self.bar {
            Some(bar) => bar.set_position(sent),
            None => eprintln!("replayed {sent} of {}", self.total),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn args(from: &str, to: &str) -> ReplayArgs {
        ReplayArgs {
            from: parse_time(from).expect("from"),
            to: parse_time(to).expect("to"),
            topic: None,
            key: None,
            message_type: None,
            broker: None,
            yes: false,
            dry_run: false,
        }
    }

    #[test]
    fn a_range_past_retention_or_backwards_is_refused() {
        let now = parse_time("2026-12-02T12:00:00Z").expect("now");
        let week = Some(Duration::from_secs(7 * 24 * 3600));
        let inside = args("2026-11-30T00:00:00Z", "2026-12-01T00:00:00Z");
        assert!(inside.check(week, now).is_ok());
        let past = args("2026-11-20T00:00:00Z", "2026-12-01T00:00:00Z");
        let refused = past
            .check(week, now)
            .expect_err("past retention")
            .to_string();
        assert!(refused.contains("2026-11-25T12:00:00Z"), "{refused}");
        assert!(
            past.check(None, now).is_ok(),
            "without retention everything is kept"
        );
        let backwards = args("2026-12-01T00:00:00Z", "2026-11-30T00:00:00Z");
        assert!(backwards.check(week, now).is_err());
    }
}
