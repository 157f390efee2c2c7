//! The operator commands: `config check`, `migrate`, `status`.

use std::{io::IsTerminal, time::Duration};

use serde::Serialize;

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

/// What `status` reports.
#[derive(Debug, Serialize)]
struct Status {
    pending: u64,
    leased: u64,
    published: u64,
    dead: u64,
}

/// `tidings status`: rows by status, as a table or JSON; with `watch`, again every interval,
/// in place on a terminal.
pub async fn status(
    settings: &Settings,
    json: bool,
    watch: Option<Duration>,
) -> Result<(), CliError> {
    let outbox = open(settings).await?;
    let terminal = std::io::stdout().is_terminal();
    loop {
        let stats = outbox
            .stats()
            .await
            .map_err(CliError::tidings("reading the outbox's counts"))?;
        let status = Status {
            pending: stats.pending,
            leased: stats.leased,
            published: stats.published,
            dead: stats.dead,
        };
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
    println!("{:<10} {:>12}", "status", "rows");
    for (name, rows) in [
        ("pending", status.pending),
        ("leased", status.leased),
        ("published", status.published),
        ("dead", status.dead),
    ] {
        println!("{name:<10} {rows:>12}");
    }
}
