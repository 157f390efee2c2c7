//! The daemon's configuration: one loader over a TOML file (`--config`), the environment
//! (`TIDINGS_…`, with `__` between sections, and the `KAFKA_…` variables the library reads)
//! and flags, in rising precedence. An unknown key or a bad value is an error that names it.

use std::{collections::BTreeMap, path::Path, time::Duration};

use figment::{
    Figment,
    providers::{Env, Serialized},
};
use serde::{Deserialize, Serialize};
use tidings::wire::HeaderProfile;

use crate::error::CliError;

mod names;

use names::{merge_file, own_name};

/// Variables that share the `TIDINGS_` prefix but are no settings: those of `scripts/services`,
/// which configure the test servers, and the prefix of a service's own Kafka variables.
const SERVICE_VARIABLES: [&str; 7] = [
    "ENV_PREFIX",
    "PG_PORT",
    "KAFKA_PORT",
    "MONGO_PORT",
    "DYNAMODB_PORT",
    "SERVICES_DIR",
    "HEXKIT_PYTHON",
];

/// Everything the daemon and the commands read.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The outbox: `sqlite://FILE`, `postgres://…`, `mongodb://…` or `dynamodb://HOST:PORT`.
    pub outbox: Option<String>,
    /// Longest wait for the outbox's database to answer, when opening it and for each
    /// connection afterwards (`10s`).
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// Where events go: `kafka://HOST:PORT,…` or `stdout`. Unset: Kafka when
    /// `kafka.bootstrap_servers` (or `KAFKA_BOOTSTRAP_SERVERS`) is set, else `stdout`.
    pub broker: Option<String>,
    /// Address of the HTTP listener (`/metrics`, `/health`, `/ready`); unset: none.
    pub http: Option<String>,
    /// `human` (the default) or `json`.
    pub log_format: LogFormat,
    /// The relay.
    pub relay: RelaySettings,
    /// Kafka, beyond its bootstrap servers.
    pub kafka: KafkaSettings,
    /// PostgreSQL names.
    pub postgres: PostgresSettings,
    /// MongoDB names.
    pub mongodb: MongoSettings,
    /// DynamoDB names.
    pub dynamodb: DynamoSettings,
    /// The persistent publisher's store.
    pub persistent: PersistentSettings,
    /// Trace export.
    pub tracing: TracingSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            outbox: None,
            connect_timeout: Duration::from_secs(10),
            broker: None,
            http: None,
            log_format: LogFormat::default(),
            relay: RelaySettings::default(),
            kafka: KafkaSettings::default(),
            postgres: PostgresSettings::default(),
            mongodb: MongoSettings::default(),
            dynamodb: DynamoSettings::default(),
            persistent: PersistentSettings::default(),
            tracing: TracingSettings::default(),
        }
    }
}

/// Where traces go: OTLP over HTTP to a collector, when an endpoint is set (build feature
/// `otlp`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TracingSettings {
    /// The collector's traces URL, e.g. `http://127.0.0.1:4318/v1/traces`; unset: no export.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans.
    pub service_name: String,
}

impl Default for TracingSettings {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "tidings".to_owned(),
        }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Lines for people, coloured on a terminal.
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Everything `RelayConfig` offers.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RelaySettings {
    /// Name of this instance in leases; unset: `relay-<uuid>`.
    pub owner: Option<String>,
    /// Claim loops side by side.
    pub workers: usize,
    /// Most rows per batch.
    pub batch_size: usize,
    /// How long claimed rows stay leased (`30s`).
    #[serde(with = "duration")]
    pub lease: Duration,
    /// How long to wait between polls when no wake-up comes (`500ms`; also read as
    /// `poll_interval_seconds`, HuleEdu's name, in seconds).
    #[serde(with = "duration")]
    pub poll_interval: Duration,
    /// How long to wait after a failed batch before the next try (`2s`; also read as
    /// `error_retry_interval_seconds`).
    #[serde(with = "duration")]
    pub error_retry_interval: Duration,
    /// Whether the relay records its `outbox_*` metrics (also read as `enable_metrics`).
    pub metrics: bool,
    /// How long published rows are kept (`7d`), or `off`.
    #[serde(with = "optional_duration")]
    pub retention: Option<Duration>,
    /// How often to purge published rows (`60s`).
    #[serde(with = "duration")]
    pub maintenance_interval: Duration,
    /// How often to refresh the queue-depth gauges (`5s`).
    #[serde(with = "duration")]
    pub queue_depth_interval: Duration,
    /// Rows deleted per purge statement.
    pub purge_batch: u32,
    /// Create the outbox's tables, collections and indexes at start (as `tidings migrate`).
    pub migrate: bool,
    /// Backoff and dead-lettering of failed rows.
    pub retry: RetrySettings,
}

impl Default for RelaySettings {
    fn default() -> Self {
        let relay = tidings::relay::RelayConfig::default();
        Self {
            owner: None,
            workers: relay.workers,
            batch_size: relay.batch_size,
            lease: relay.lease,
            poll_interval: relay.poll_interval,
            error_retry_interval: relay.error_retry_interval,
            metrics: relay.metrics,
            retention: relay.retention,
            maintenance_interval: relay.maintenance_interval,
            queue_depth_interval: relay.queue_depth_interval,
            purge_batch: relay.purge_batch,
            migrate: false,
            retry: RetrySettings::default(),
        }
    }
}

/// A failed row's backoff.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    /// Attempts before a row goes to dead letters (also read as `max_retries`).
    pub max_attempts: u32,
    /// Delay after the first failure.
    #[serde(with = "duration")]
    pub initial_delay: Duration,
    /// Longest delay.
    #[serde(with = "duration")]
    pub max_delay: Duration,
    /// Growth of the delay per attempt.
    pub multiplier: f64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        let retry = tidings::RetryPolicy::default();
        Self {
            max_attempts: retry.max_attempts,
            initial_delay: retry.initial_delay,
            max_delay: retry.max_delay,
            multiplier: retry.multiplier,
        }
    }
}

/// A value never shown: `config check` and `Debug` print `***`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Kafka's connection settings; `KAFKA_…` variables fill them too.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    /// Brokers, when `broker` does not name them.
    pub bootstrap_servers: Option<String>,
    /// `client.id`.
    pub client_id: Option<String>,
    /// `security.protocol` (`sasl_ssl`, `ssl`…).
    pub security_protocol: Option<String>,
    /// `sasl.mechanism` (`PLAIN`, `SCRAM-SHA-256`…).
    pub sasl_mechanism: Option<String>,
    /// `sasl.username`.
    pub sasl_username: Option<String>,
    /// `sasl.password`.
    pub sasl_password: Option<Secret>,
    /// `ssl.ca.location`.
    pub ssl_ca_location: Option<String>,
    /// `ssl.certificate.location`.
    pub ssl_certificate_location: Option<String>,
    /// `ssl.key.location`.
    pub ssl_key_location: Option<String>,
    /// `ssl.key.password`.
    pub ssl_key_password: Option<Secret>,
    /// Any other librdkafka property.
    pub properties: BTreeMap<String, String>,
    /// Create each topic before the first event sent to it (an existing one is left alone).
    pub create_topics: bool,
    /// Partitions of a topic the relay creates (1 when unset).
    pub default_topic_partitions: Option<i32>,
    /// Replication factor of a topic the relay creates (1 when unset).
    pub default_topic_replication_factor: Option<i32>,
    /// The topic of events that name none, for services loading these settings
    /// (`EnvelopeFactory::with_default_topic`); the relay sends each row where it was staged to.
    pub default_topic: Option<String>,
    /// The headers events go with: `cloud_events` (the default), `hexkit` (GHGA hexkit's
    /// `type` / `event_id` / `correlation_id`) or `cloud_events_and_hexkit`.
    pub headers: HeaderProfile,
}

/// Where the PostgreSQL outbox lives.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresSettings {
    /// The schema of the outbox and inbox tables.
    pub schema: String,
    /// What the relay does with a row once its event is published.
    pub published_rows: PublishedRows,
}

impl Default for PostgresSettings {
    fn default() -> Self {
        Self {
            schema: "public".to_owned(),
            published_rows: PublishedRows::Keep,
        }
    }
}

/// What the relay does with a PostgreSQL row once its event is published: `keep` it marked
/// published (for `tidings replay` and `relay.retention`), or `delete` it, a cheaper write.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PublishedRows {
    /// Keep them until the retention purge.
    #[default]
    Keep,
    /// Delete them as they are settled.
    Delete,
}

/// Where the MongoDB outbox lives.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MongoSettings {
    /// The database.
    pub database: String,
    /// The outbox collection (its keys collection is `<outbox>_keys`).
    pub outbox: String,
    /// The inbox collection.
    pub inbox: String,
}

impl Default for MongoSettings {
    fn default() -> Self {
        Self {
            database: "tidings".to_owned(),
            outbox: "tidings_outbox".to_owned(),
            inbox: "tidings_inbox".to_owned(),
        }
    }
}

/// Where the DynamoDB outbox lives.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DynamoSettings {
    /// Prefix of the outbox and inbox tables (`<prefix>_tidings_outbox`,
    /// `<prefix>_tidings_inbox`); unset:
    /// `tidings_outbox` and `tidings_inbox`.
    pub table_prefix: Option<String>,
}

/// Where the persistent publisher keeps its copies: a table in `postgres.schema`, or a
/// collection in `mongodb.database`, of the database the outbox URL names.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PersistentSettings {
    /// The table or collection.
    pub table: String,
}

impl Default for PersistentSettings {
    fn default() -> Self {
        Self {
            table: "tidings_published_events".to_owned(),
        }
    }
}

/// Values given as flags, which win over the file and the environment.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Flags {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) outbox: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) broker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) http: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) log_format: Option<LogFormat>,
    #[serde(skip_serializing_if = "RelayFlags::is_empty")]
    pub(crate) relay: RelayFlags,
    /// Not a setting: where more Kafka settings come from.
    #[serde(skip)]
    pub(crate) env_prefix: Option<String>,
}

impl Flags {
    /// Also reads `<PREFIX>_KAFKA_*` variables (`XZEPR_KAFKA_SASL_PASSWORD` with prefix
    /// `XZEPR`) as Kafka settings, over the `KAFKA_*` ones; `TIDINGS_ENV_PREFIX` sets it too.
    pub fn with_env_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.env_prefix = Some(prefix.into());
        self
    }
}

/// Flags of the `relay` section.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct RelayFlags {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) migrate: Option<bool>,
}

impl RelayFlags {
    fn is_empty(&self) -> bool {
        self.migrate.is_none()
    }
}

/// The settings from `file` (if any), the environment and `flags`.
pub fn load(file: Option<&Path>, flags: &Flags) -> Result<Settings, CliError> {
    let mut figment = Figment::from(Serialized::defaults(Settings::default()));
    if let Some(file) = file {
        if !file.is_file() {
            return Err(CliError::Config(format!(
                "config file {} does not exist",
                file.display()
            )));
        }
        figment = merge_file(figment, file)?;
    }
    let service_variables = SERVICE_VARIABLES.map(str::to_ascii_lowercase);
    let service_variables: Vec<&str> = service_variables.iter().map(String::as_str).collect();
    figment = figment
        // TIDINGS_RELAY__BATCH_SIZE is relay.batch_size.
        .merge(
            Env::prefixed("TIDINGS_")
                .split("__")
                .ignore(&service_variables)
                .map(|key| own_name(key.as_str()).into()),
        )
        .merge(
            Env::prefixed("KAFKA_")
                .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("property_"))
                .map(|key| format!("kafka.{key}").into()),
        )
        .merge(kafka_properties(std::env::vars()));
    let prefix = flags
        .env_prefix
        .clone()
        .or_else(|| std::env::var("TIDINGS_ENV_PREFIX").ok())
        .filter(|p| !p.trim().is_empty());
    if let Some(prefix) = prefix {
        let prefix = format!("{}_KAFKA_", prefix.trim().trim_end_matches('_'));
        figment = figment.merge(
            Env::prefixed(&prefix.to_ascii_uppercase())
                .map(|key| own_name(&format!("kafka.{key}")).into()),
        );
    }
    figment = figment.merge(Serialized::defaults(flags));
    figment
        .extract()
        .map_err(|error| CliError::Config(one_line(&error)))
}

/// `KAFKA_PROPERTY_LINGER_MS=1` as the property `linger.ms`, as `KafkaConfig::from_env` reads it.
fn kafka_properties(
    vars: impl IntoIterator<Item = (String, String)>,
) -> Serialized<BTreeMap<String, String>> {
    let properties = vars
        .into_iter()
        .filter_map(|(name, value)| {
            let property = name.strip_prefix("KAFKA_PROPERTY_")?;
            Some((property.to_ascii_lowercase().replace('_', "."), value))
        })
        .collect();
    Serialized::default("kafka.properties", properties)
}

/// figment's error (and the errors it gathered) as one line naming the key.
fn one_line(error: &figment::Error) -> String {
    error
        .clone()
        .into_iter()
        // figment names keys within its profile, `default.`: the user's key is what follows.
        .map(|e| e.to_string().replace("for key \"default.", "for key \""))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Settings {
    /// The configuration as TOML, secrets shown as `***`.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot show: {e}\n"))
    }
}

/// Durations as `30s`, `500ms`, `7d`.
mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*value).to_string())
    }

    /// A duration as text (`30s`), or a number of seconds (`2.0`, as HuleEdu's settings give
    /// them).
    #[derive(Deserialize)]
    #[serde(untagged)]
    pub(super) enum Given {
        Seconds(f64),
        Text(String),
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        parse(Given::deserialize(d)?)
    }

    /// The duration `given` is.
    pub(super) fn parse<E: serde::de::Error>(given: Given) -> Result<Duration, E> {
        let text = match given {
            Given::Seconds(seconds) => return seconds_of(seconds, &seconds.to_string()),
            Given::Text(text) => text,
        };
        if let Ok(seconds) = text.trim().parse::<f64>() {
            return seconds_of(seconds, &text);
        }
        humantime::parse_duration(&text).map_err(|e| {
            E::custom(format!(
                "{text:?} is not a duration like 30s or 500ms, or a number of seconds: {e}"
            ))
        })
    }

    fn seconds_of<E: serde::de::Error>(seconds: f64, shown: &str) -> Result<Duration, E> {
        Duration::try_from_secs_f64(seconds).map_err(|_| {
            E::custom(format!(
                "{shown:?} is not a number of seconds a duration can be"
            ))
        })
    }
}

/// An optional duration, `off` for none.
mod optional_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::duration::serialize(value, s),
            None => s.serialize_str("off"),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        use super::duration::{Given, parse};
        match Given::deserialize(d)? {
            Given::Text(text) if text == "off" => Ok(None),
            given => parse(given)
                .map(Some)
                .map_err(|e: D::Error| serde::de::Error::custom(format!("{e} (or off)"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use figment::Jail;

    /// Runs `test` with the environment and working directory of its own (figment's `Jail`
    /// holds a lock, so tests that set variables do not see each other's).
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail takes a closure returning its own error"
    )]
    fn jailed(test: impl FnOnce(&mut Jail) -> Result<(), CliError>) {
        Jail::expect_with(|jail| {
            // Without the caller's TIDINGS_* and KAFKA_* (restored afterwards).
            jail.clear_env();
            test(jail).map_err(|e| e.to_string().into())
        });
    }

    #[test]
    fn the_relay_reads_huleedu_s_names_and_seconds() {
        jailed(|jail| {
            jail.create_file(
                "tidings.toml",
                "[relay]\npoll_interval_seconds = 2.0\nbatch_size = 50\n\
                 error_retry_interval_seconds = 60\nenable_metrics = false\n\
                 [relay.retry]\nmax_retries = 10\n",
            )
            .expect("write");
            let file = Path::new("tidings.toml");
            let settings = load(Some(file), &Flags::default())?;
            let relay = &settings.relay;
            assert_eq!(relay.poll_interval, Duration::from_secs(2));
            assert_eq!(relay.error_retry_interval, Duration::from_secs(60));
            assert_eq!(
                (relay.batch_size, relay.metrics, relay.retry.max_attempts),
                (50, false, 10)
            );

            // The environment, by the same names, wins over the file.
            jail.set_env("TIDINGS_RELAY__POLL_INTERVAL_SECONDS", "5");
            jail.set_env("TIDINGS_RELAY__ENABLE_METRICS", "true");
            let settings = load(Some(file), &Flags::default())?;
            assert_eq!(settings.relay.poll_interval, Duration::from_secs(5));
            assert!(settings.relay.metrics);
            jail.clear_env();

            jail.create_file("tidings.toml", "[relay]\npoll_interval = \"-1\"\n")
                .expect("write");
            let error = load(Some(file), &Flags::default()).expect_err("a negative duration");
            assert!(error.to_string().contains("poll_interval"), "{error}");
            jail.create_file(
                "tidings.toml",
                "[relay]\npoll_interval = \"1s\"\npoll_interval_seconds = 2\nretention = 3600\n",
            )
            .expect("write");
            let error = load(Some(file), &Flags::default()).expect_err("both names");
            assert!(error.to_string().contains("are one setting"), "{error}");
            jail.create_file("tidings.toml", "[relay]\nretention = 3600\n")
                .expect("write");
            let settings = load(Some(file), &Flags::default())?;
            assert_eq!(settings.relay.retention, Some(Duration::from_secs(3600)));
            Ok(())
        });
    }

    const XZEPR_YAML: &str = r#"
kafka:
  brokers: "broker1.example.com:9093,broker2.example.com:9093"
  default_topic: "xzepr.events"
  default_topic_partitions: 3
  default_topic_replication_factor: 3
  auth:
    security_protocol: "SASL_SSL"
    sasl:
      mechanism: "SCRAM-SHA-256"
      username: "kafka-user"
      password: "from-the-file"
    ssl:
      ca_location: "/path/to/ca-cert.pem"
      certificate_location: "/path/to/client-cert.pem"
      key_location: "/path/to/client-key.pem"
"#;

    #[test]
    fn xzepr_s_yaml_and_prefixed_variables_make_the_kafka_settings() {
        jailed(|jail| {
            jail.create_file("default.yaml", XZEPR_YAML).expect("write");
            let file = Path::new("default.yaml");
            let kafka = load(Some(file), &Flags::default())?.kafka;
            assert_eq!(
                kafka.bootstrap_servers.as_deref(),
                Some("broker1.example.com:9093,broker2.example.com:9093")
            );
            assert_eq!(kafka.default_topic.as_deref(), Some("xzepr.events"));
            assert_eq!(
                (
                    kafka.default_topic_partitions,
                    kafka.default_topic_replication_factor
                ),
                (Some(3), Some(3))
            );
            assert_eq!(kafka.security_protocol.as_deref(), Some("SASL_SSL"));
            assert_eq!(kafka.sasl_mechanism.as_deref(), Some("SCRAM-SHA-256"));
            assert_eq!(kafka.sasl_username.as_deref(), Some("kafka-user"));
            assert_eq!(
                kafka.ssl_key_location.as_deref(),
                Some("/path/to/client-key.pem")
            );

            // XZEPR_KAFKA_* win over the file once the prefix is named, by flag or variable;
            // without it they are not read.
            jail.set_env("XZEPR_KAFKA_SASL_PASSWORD", "from-the-env");
            jail.set_env("XZEPR_KAFKA_BROKERS", "env-broker:9093");
            let unprefixed = load(Some(file), &Flags::default())?.kafka;
            let password = |k: &KafkaSettings| k.sasl_password.clone().map(|s| s.0);
            assert_eq!(password(&unprefixed).as_deref(), Some("from-the-file"));
            let flagged = load(Some(file), &Flags::default().with_env_prefix("XZEPR"))?.kafka;
            jail.set_env("TIDINGS_ENV_PREFIX", "xzepr");
            let from_env = load(Some(file), &Flags::default())?.kafka;
            for kafka in [flagged, from_env] {
                assert_eq!(password(&kafka).as_deref(), Some("from-the-env"));
                assert_eq!(kafka.bootstrap_servers.as_deref(), Some("env-broker:9093"));
            }

            #[cfg(feature = "kafka")]
            {
                // The connection a service builds from them is checked as the daemon's is.
                for (variable, file) in [
                    ("XZEPR_KAFKA_SSL_CA_LOCATION", "ca.pem"),
                    ("XZEPR_KAFKA_SSL_CERTIFICATE_LOCATION", "cert.pem"),
                    ("XZEPR_KAFKA_SSL_KEY_LOCATION", "key.pem"),
                ] {
                    jail.create_file(file, "-----BEGIN-----").expect("write");
                    jail.set_env(variable, jail.directory().join(file).display());
                }
                let config = crate::broker::kafka_config(&load(Some(file), &Flags::default())?)?;
                assert_eq!(config.bootstrap_servers, "env-broker:9093");
                assert_eq!(config.sasl_mechanism.as_deref(), Some("SCRAM-SHA-256"));
                jail.set_env("XZEPR_KAFKA_SASL_MECHANISM", "SCRAM-SHA-1");
                let error = crate::broker::kafka_config(&load(Some(file), &Flags::default())?)
                    .expect_err("an unknown mechanism");
                assert!(error.to_string().contains("SCRAM-SHA-1"), "{error}");
            }

            jail.create_file(
                "bad.yml",
                "kafka:\n  auth:\n    sasl:\n      mechanizm: PLAIN\n",
            )
            .expect("write");
            let error =
                load(Some(Path::new("bad.yml")), &Flags::default()).expect_err("an unknown key");
            assert!(
                error.to_string().contains("\"kafka.auth.sasl.mechanizm\""),
                "{error}"
            );
            Ok(())
        });
    }
}
