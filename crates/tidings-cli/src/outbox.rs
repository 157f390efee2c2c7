//! The outbox named by a URL: `sqlite://FILE`, `postgres://…`, `mongodb://…`,
//! `dynamodb://HOST:PORT`. Each backend is behind a cargo feature of this crate; a scheme
//! this build lacks is a one-line error saying which feature would have it.

use tidings::{OutboxStats, Result};

use crate::{config::Settings, error::CliError};

/// An opened outbox.
#[derive(Clone, Debug)]
pub enum Outbox {
    /// SQLite.
    #[cfg(feature = "sqlite")]
    Sqlite(tidings::sqlite::SqliteBackend),
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(tidings::postgres::PostgresBackend),
    /// MongoDB.
    #[cfg(feature = "mongodb")]
    Mongo(tidings::mongodb::MongoBackend),
    /// DynamoDB.
    #[cfg(feature = "dynamodb")]
    Dynamo(tidings::dynamodb::DynamoBackend),
}

/// Runs `$body` with `$backend` bound to the backend inside `$outbox`, whichever it is.
#[macro_export]
#[doc(hidden)]
macro_rules! with_backend {
    ($outbox:expr, $backend:ident => $body:expr) => {
        match $outbox {
            #[cfg(feature = "sqlite")]
            $crate::outbox::Outbox::Sqlite($backend) => $body,
            #[cfg(feature = "postgres")]
            $crate::outbox::Outbox::Postgres($backend) => $body,
            #[cfg(feature = "mongodb")]
            $crate::outbox::Outbox::Mongo($backend) => $body,
            #[cfg(feature = "dynamodb")]
            $crate::outbox::Outbox::Dynamo($backend) => $body,
        }
    };
}

/// The URL with its password, if any, shown as `***`.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[allow(dead_code)] // unused when every backend is built in
fn unsupported(scheme: &str, feature: &str) -> CliError {
    CliError::Unsupported(format!(
        "this build of tidings has no {scheme} outbox: build it with `--features {feature}` \
         (or `full`)"
    ))
}

type Opened = std::result::Result<Outbox, CliError>;

#[allow(dead_code)] // unused when no backend is built in
fn opening(url: &str) -> impl FnOnce(tidings::Error) -> CliError {
    CliError::tidings(format!("opening the outbox {}", redacted(url)))
}

impl Outbox {
    /// Opens the outbox at `url` with the names in `settings`.
    pub async fn open(url: &str, settings: &Settings) -> Opened {
        let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
        match scheme {
            "sqlite" => Self::sqlite(url).await,
            "postgres" | "postgresql" => Self::postgres(url, settings).await,
            "mongodb" | "mongodb+srv" => Self::mongodb(url, settings).await,
            "dynamodb" => Self::dynamodb(url, settings).await,
            _ => Err(CliError::Config(format!(
                "outbox {:?}: unknown scheme {scheme:?}; use sqlite://, postgres://, \
                 mongodb:// or dynamodb://",
                redacted(url)
            ))),
        }
    }

    #[cfg(feature = "sqlite")]
    async fn sqlite(url: &str) -> Opened {
        let backend = tidings::sqlite::SqliteBackend::connect(url).await;
        backend.map(Self::Sqlite).map_err(opening(url))
    }

    #[cfg(not(feature = "sqlite"))]
    async fn sqlite(_: &str) -> Opened {
        Err(unsupported("SQLite", "sqlite"))
    }

    #[cfg(feature = "postgres")]
    async fn postgres(url: &str, settings: &Settings) -> Opened {
        let opened = async {
            let schema = tidings::postgres::Schema::in_schema(&settings.postgres.schema)?;
            let backend =
                tidings::postgres::PostgresBackend::connect_within(url, settings.connect_timeout)
                    .await?;
            let published = match settings.postgres.published_rows {
                crate::config::PublishedRows::Keep => tidings::postgres::PublishedRows::Keep,
                crate::config::PublishedRows::Delete => tidings::postgres::PublishedRows::Delete,
            };
            Ok(Self::Postgres(
                backend.with_schema(schema).with_published_rows(published),
            ))
        };
        opened.await.map_err(opening(url))
    }

    #[cfg(not(feature = "postgres"))]
    async fn postgres(_: &str, _: &Settings) -> Opened {
        Err(unsupported("PostgreSQL", "postgres"))
    }

    #[cfg(feature = "mongodb")]
    async fn mongodb(url: &str, settings: &Settings) -> Opened {
        let opened = async {
            let names = &settings.mongodb;
            let names = tidings::mongodb::Names::new(&names.database, &names.outbox, &names.inbox)?;
            let backend =
                tidings::mongodb::MongoBackend::connect_within(url, settings.connect_timeout)
                    .await?;
            Ok(Self::Mongo(backend.with_names(names)))
        };
        opened.await.map_err(opening(url))
    }

    #[cfg(not(feature = "mongodb"))]
    async fn mongodb(_: &str, _: &Settings) -> Opened {
        Err(unsupported("MongoDB", "mongodb"))
    }

    #[cfg(feature = "dynamodb")]
    async fn dynamodb(url: &str, settings: &Settings) -> Opened {
        let host = url.trim_start_matches("dynamodb://").trim_end_matches('/');
        let endpoint = (!host.is_empty()).then(|| format!("http://{host}"));
        let backend = tidings::dynamodb::DynamoBackend::from_env_at(endpoint.as_deref()).await;
        match &settings.dynamodb.table_prefix {
            None => Ok(Self::Dynamo(backend)),
            Some(prefix) => tidings::dynamodb::Tables::prefixed(prefix)
                .map(|tables| Self::Dynamo(backend.with_tables(tables)))
                .map_err(opening(url)),
        }
    }

    #[cfg(not(feature = "dynamodb"))]
    async fn dynamodb(_: &str, _: &Settings) -> Opened {
        Err(unsupported("DynamoDB", "dynamodb"))
    }

    /// Row counts by status.
    pub async fn stats(&self) -> Result<OutboxStats> {
        use tidings::OutboxRepository;
        with_backend!(self, backend => backend.stats().await)
    }

    /// Rows per topic, sorted by topic.
    pub async fn topic_stats(&self) -> Result<Vec<tidings::TopicStats>> {
        use tidings::OutboxInspector;
        with_backend!(self, backend => backend.topic_stats().await)
    }

    /// A page of the rows published in the query's range, in sequence order.
    pub async fn list_published(
        &self,
        query: &tidings::PublishedQuery,
    ) -> Result<Vec<tidings::OutboxRecord>> {
        use tidings::OutboxInspector;
        with_backend!(self, backend => backend.list_published(query).await)
    }

    /// Creates the tables, collections and indexes (idempotent).
    pub async fn migrate(&self) -> Result<()> {
        with_backend!(self, backend => backend.migrate_outbox().await)
    }

    /// What [`migrate`](Self::migrate) creates, for review or another migration tool.
    pub fn migration(&self) -> String {
        with_backend!(self, backend => backend.migration_text())
    }

    /// Whether the database answers (a connection from the pool, a `hello`, a table's
    /// description): cheap enough for a readiness probe.
    pub async fn ping(&self) -> Result<()> {
        with_backend!(self, backend => backend.ping().await)
    }
}

/// What the commands need of each backend beyond the ports.
trait Migrate {
    async fn migrate_outbox(&self) -> Result<()>;
    fn migration_text(&self) -> String;
    async fn ping(&self) -> Result<()>;
}

#[cfg(feature = "sqlite")]
impl Migrate for tidings::sqlite::SqliteBackend {
    async fn migrate_outbox(&self) -> Result<()> {
        self.migrate().await
    }

    fn migration_text(&self) -> String {
        Self::migration_sql()
    }

    async fn ping(&self) -> Result<()> {
        self.pool()
            .acquire()
            .await
            .map(drop)
            .map_err(tidings::Error::unavailable)
    }
}

#[cfg(feature = "postgres")]
impl Migrate for tidings::postgres::PostgresBackend {
    async fn migrate_outbox(&self) -> Result<()> {
        self.migrate().await
    }

    fn migration_text(&self) -> String {
        self.schema().migration_sql()
    }

    async fn ping(&self) -> Result<()> {
        self.pool()
            .acquire()
            .await
            .map(drop)
            .map_err(tidings::Error::unavailable)
    }
}

#[cfg(feature = "mongodb")]
impl Migrate for tidings::mongodb::MongoBackend {
    async fn migrate_outbox(&self) -> Result<()> {
        self.migrate().await
    }

    fn migration_text(&self) -> String {
        let names = self.names();
        format!(
            "// MongoDB database {db}: collections {outbox}, {keys}, {inbox}\n\
             db.{outbox}.createIndex({{status: 1, sequence: 1}}, {{name: \"tidings_by_status\"}})\n\
             db.{outbox}.createIndex({{status: 1, published_at: 1}}, {{name: \"tidings_published\"}})\n\
             db.{keys}.createIndex({{last: 1}}, {{name: \"tidings_last\"}})\n\
             db.{inbox}.createIndex({{received_at: 1}}, {{name: \"tidings_received\"}})\n",
            db = names.database(),
            outbox = names.outbox(),
            keys = names.keys(),
            inbox = names.inbox(),
        )
    }

    async fn ping(&self) -> Result<()> {
        self.check_transactions().await
    }
}

#[cfg(feature = "dynamodb")]
impl Migrate for tidings::dynamodb::DynamoBackend {
    async fn migrate_outbox(&self) -> Result<()> {
        self.create_tables().await
    }

    fn migration_text(&self) -> String {
        format!(
            "# DynamoDB tables {} and {}, with the indexes and TTL that docs/dynamodb.md \
             defines for CloudFormation and Terraform\n",
            self.tables().outbox(),
            self.tables().inbox()
        )
    }

    async fn ping(&self) -> Result<()> {
        self.client()
            .describe_table()
            .table_name(self.tables().outbox())
            .send()
            .await
            .map(drop)
            .map_err(|e| tidings::Error::unavailable(aws_error_text(&e)))
    }
}

#[cfg(feature = "dynamodb")]
fn aws_error_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_not_shown() {
        assert_eq!(
            redacted("postgres://app:secret@db:5432/app"),
            "postgres://app:***@db:5432/app"
        );
        assert_eq!(redacted("sqlite://tidings.db"), "sqlite://tidings.db");
        assert_eq!(
            redacted("mongodb://user@db/?replicaSet=rs0"),
            "mongodb://user@db/?replicaSet=rs0"
        );
    }
}
