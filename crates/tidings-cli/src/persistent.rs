//! `tidings persistent …`: the persistent publisher's store, in the database the outbox URL
//! names (SQLite, PostgreSQL, MongoDB or DynamoDB), sent again: what the broker has not taken yet, or everything
//! (of one topic) to rebuild a topic.

use clap::Subcommand;

use crate::{config::Settings, error::CliError};

/// `tidings persistent …`.
#[derive(Debug, Subcommand)]
pub enum PersistentCommand {
    /// Send the stored events the broker has not taken yet, oldest first.
    PublishPending {
        /// Where to send them: kafka://HOST:PORT,… or stdout (config: broker).
        #[arg(long, value_name = "URL")]
        broker: Option<String>,
    },
    /// Send every stored event again (of one topic with --topic), oldest first, to rebuild a
    /// topic; says how many would go, and sends with --yes.
    Republish {
        /// Only the events of this topic.
        #[arg(long)]
        topic: Option<String>,
        /// Where to send them: kafka://HOST:PORT,… or stdout (config: broker).
        #[arg(long, value_name = "URL")]
        broker: Option<String>,
        /// Send them (without it, or with --dry-run, only say how many would go).
        #[arg(long, conflicts_with = "dry_run")]
        yes: bool,
        /// Only say how many events would be sent.
        #[arg(long)]
        dry_run: bool,
    },
}

impl PersistentCommand {
    /// The `--broker` flag, if given.
    pub fn broker(&self) -> Option<String> {
        match self {
            Self::PublishPending { broker } | Self::Republish { broker, .. } => broker.clone(),
        }
    }
}

/// Runs `tidings persistent …`.
pub async fn run(settings: &Settings, command: &PersistentCommand) -> Result<(), CliError> {
    let outbox = crate::commands::open(settings).await?;
    sending::run(outbox, settings, command).await
}

mod sending {
    use std::sync::Arc;

    use tidings::{
        DynEventPublisher, EventStore, StoredEventQuery,
        persistent::{PersistentConfig, PersistentPublisher, PublishReport},
    };

    use super::PersistentCommand;
    use crate::{broker::Broker, config::Settings, error::CliError, outbox::Outbox};

    pub(super) async fn run(
        outbox: Outbox,
        settings: &Settings,
        command: &PersistentCommand,
    ) -> Result<(), CliError> {
        let table = settings.persistent.table.as_str();
        match outbox {
            #[cfg(feature = "sqlite")]
            Outbox::Sqlite(backend) => {
                // The SQLite store's table name is fixed; a different one would read nothing.
                if table != SQLITE_TABLE {
                    return Err(CliError::Config(format!(
                        "persistent.table {table:?}: the SQLite store keeps its copies in \
                         {SQLITE_TABLE:?} only"
                    )));
                }
                let store = tidings::sqlite::SqliteEventStore::new(&backend);
                with_store(store, settings, command).await
            }
            #[cfg(feature = "postgres")]
            Outbox::Postgres(backend) => {
                let store = tidings::postgres::PostgresEventStore::new(
                    backend.pool().clone(),
                    backend.schema(),
                )
                .with_table(table)
                .map_err(opening(table))?;
                with_store(store, settings, command).await
            }
            #[cfg(feature = "mongodb")]
            Outbox::Mongo(backend) => {
                let store = tidings::mongodb::MongoEventStore::new(
                    backend.client().clone(),
                    backend.names(),
                )
                .with_collection(backend.names(), table)
                .map_err(opening(table))?;
                with_store(store, settings, command).await
            }
            #[cfg(feature = "dynamodb")]
            Outbox::Dynamo(backend) => {
                let store = tidings::dynamodb::DynamoEventStore::new(backend.client().clone())
                    .with_table(table)
                    .map_err(opening(table))?;
                with_store(store, settings, command).await
            }
        }
    }

    #[cfg(any(feature = "postgres", feature = "mongodb", feature = "dynamodb"))]
    fn opening(table: &str) -> impl FnOnce(tidings::Error) -> CliError {
        CliError::tidings(format!("opening the event store {table:?}"))
    }

    #[cfg(feature = "sqlite")]
    const SQLITE_TABLE: &str = "tidings_published_events";

    async fn with_store<S: EventStore>(
        store: S,
        settings: &Settings,
        command: &PersistentCommand,
    ) -> Result<(), CliError> {
        if let PersistentCommand::Republish {
            topic, yes: false, ..
        } = command
        {
            let count = count(&store, topic.as_deref()).await?;
            let of = topic
                .as_ref()
                .map_or_else(String::new, |t| format!(" of topic {t}"));
            println!(
                "would republish {count} stored events{of}; run again with --yes to send them"
            );
            return Ok(());
        }
        let broker = Broker::of(settings)?;
        let sink: Arc<dyn DynEventPublisher> = broker.publisher(settings)?;
        let publisher = PersistentPublisher::new(store, sink, PersistentConfig::new())
            .map_err(CliError::tidings("the persistent publisher"))?;
        let (verb, report) = match command {
            PersistentCommand::PublishPending { .. } => {
                ("published", publisher.publish_pending().await)
            }
            PersistentCommand::Republish {
                topic: Some(topic), ..
            } => ("republished", publisher.republish_topic(topic).await),
            PersistentCommand::Republish { topic: None, .. } => {
                ("republished", publisher.republish().await)
            }
        };
        let report: PublishReport = report.map_err(CliError::tidings("sending stored events"))?;
        // Standard error: with the `stdout` broker, standard output carries the events.
        eprintln!(
            "{verb} {} stored events to {}; {} still pending",
            report.sent,
            broker.describe(),
            report.pending
        );
        Ok(())
    }

    /// Stored events (of `topic`, if given).
    async fn count<S: EventStore>(store: &S, topic: Option<&str>) -> Result<u64, CliError> {
        let mut query = StoredEventQuery::all(500);
        let mut total = 0;
        loop {
            let page = store
                .page(&query)
                .await
                .map_err(CliError::tidings("reading the event store"))?;
            let Some(last) = page.last() else {
                return Ok(total);
            };
            query = query.after(last);
            total += page
                .iter()
                .filter(|e| topic.is_none_or(|t| e.envelope.topic == t))
                .count() as u64;
        }
    }
}
