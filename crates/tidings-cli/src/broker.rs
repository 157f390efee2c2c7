//! Where events go: Kafka (`kafka://HOST:PORT,…`, with the `kafka` feature) or the
//! `stdout` sink.

use std::{sync::Arc, time::Duration};

use tidings::DynEventPublisher;

use crate::{config::Settings, error::CliError, stdout::StdoutPublisher};

/// The broker the configuration names.
#[derive(Clone, Debug, PartialEq)]
pub enum Broker {
    /// One structured CloudEvent per line on standard output.
    Stdout,
    /// A Kafka cluster at these bootstrap servers.
    Kafka(String),
}

impl Broker {
    /// The broker of `settings`: `broker` if set, else Kafka when `kafka.bootstrap_servers`
    /// is set, else `stdout`.
    pub fn of(settings: &Settings) -> Result<Self, CliError> {
        match settings.broker.as_deref() {
            Some("stdout") => Ok(Self::Stdout),
            Some(url) => match url.strip_prefix("kafka://") {
                Some(servers) if !servers.trim().is_empty() => {
                    Ok(Self::Kafka(servers.trim_end_matches('/').to_owned()))
                }
                _ => Err(CliError::Config(format!(
                    "broker {url:?}: use kafka://HOST:PORT[,HOST:PORT] or stdout"
                ))),
            },
            None => Ok(match &settings.kafka.bootstrap_servers {
                Some(servers) => Self::Kafka(servers.clone()),
                None => Self::Stdout,
            }),
        }
    }

    /// How the broker is named in logs and `/ready`.
    pub fn describe(&self) -> String {
        match self {
            Self::Stdout => "stdout".to_owned(),
            Self::Kafka(servers) => format!("kafka://{servers}"),
        }
    }

    /// A publisher to the broker.
    pub fn publisher(&self, settings: &Settings) -> Result<Arc<dyn DynEventPublisher>, CliError> {
        match self {
            Self::Stdout => Ok(Arc::new(StdoutPublisher::stdout())),
            Self::Kafka(servers) => kafka::publisher(servers, settings),
        }
    }

    /// Whether the broker answers within `timeout`.
    pub async fn ping(&self, settings: &Settings, timeout: Duration) -> Result<(), CliError> {
        match self {
            Self::Stdout => Ok(()),
            Self::Kafka(servers) => kafka::ping(servers, settings, timeout).await,
        }
    }
}

#[cfg(feature = "kafka")]
pub use kafka::kafka_config;

#[cfg(feature = "kafka")]
mod kafka {
    use std::{sync::Arc, time::Duration};

    use tidings::{
        DynEventPublisher,
        kafka::{KafkaAdmin, KafkaConfig, KafkaPublisher, Secret, TopicCreation},
    };

    use crate::{config::Settings, error::CliError};

    /// The Kafka connection `settings` describe, for a service that loads the daemon's
    /// settings: `kafka.bootstrap_servers` (or XZepr's `kafka.brokers`) and the security
    /// settings, checked as the daemon checks them.
    pub fn kafka_config(settings: &Settings) -> Result<KafkaConfig, CliError> {
        let servers = settings.kafka.bootstrap_servers.as_deref().ok_or_else(|| {
            CliError::Config("kafka.bootstrap_servers (or kafka.brokers) is not set".to_owned())
        })?;
        let config = config(servers, settings);
        config
            .validate()
            .map_err(CliError::tidings(format!("kafka://{servers}")))?;
        Ok(config)
    }

    fn config(servers: &str, settings: &Settings) -> KafkaConfig {
        let kafka = &settings.kafka;
        let mut config = KafkaConfig::new(servers);
        if let Some(id) = &kafka.client_id {
            config = config.with_client_id(id);
        }
        config.security_protocol = kafka.security_protocol.clone();
        config.sasl_mechanism = kafka.sasl_mechanism.clone();
        config.sasl_username = kafka.sasl_username.clone();
        config.sasl_password = kafka.sasl_password.as_ref().map(|s| Secret::new(&s.0));
        config.ssl_ca_location = kafka.ssl_ca_location.clone();
        config.ssl_certificate_location = kafka.ssl_certificate_location.clone();
        config.ssl_key_location = kafka.ssl_key_location.clone();
        config.ssl_key_password = kafka.ssl_key_password.as_ref().map(|s| Secret::new(&s.0));
        for (name, value) in &kafka.properties {
            config = config.with_property(name, value);
        }
        config
    }

    pub(super) fn publisher(
        servers: &str,
        settings: &Settings,
    ) -> Result<Arc<dyn DynEventPublisher>, CliError> {
        let what = || format!("connecting to kafka://{servers}");
        let config = config(servers, settings);
        let kafka = &settings.kafka;
        let mut publisher = KafkaPublisher::new(&config)
            .map_err(CliError::tidings(what()))?
            .with_headers(kafka.headers);
        if kafka.create_topics {
            let creation = TopicCreation::new(
                kafka.default_topic_partitions.unwrap_or(1),
                kafka.default_topic_replication_factor.unwrap_or(1),
            )
            .map_err(CliError::tidings("kafka topic creation".to_owned()))?;
            publisher = publisher
                .with_topic_creation(&config, creation)
                .map_err(CliError::tidings(what()))?;
        }
        Ok(Arc::new(publisher))
    }

    pub(super) async fn ping(
        servers: &str,
        settings: &Settings,
        timeout: Duration,
    ) -> Result<(), CliError> {
        let what = || format!("kafka://{servers}");
        let admin =
            KafkaAdmin::new(&config(servers, settings)).map_err(CliError::tidings(what()))?;
        admin.ping(timeout).await.map_err(CliError::tidings(what()))
    }
}

#[cfg(not(feature = "kafka"))]
mod kafka {
    use std::{sync::Arc, time::Duration};

    use tidings::DynEventPublisher;

    use crate::{config::Settings, error::CliError};

    fn unsupported() -> CliError {
        CliError::Unsupported(
            "this build of tidings has no Kafka: build it with `--features kafka` (or `full`)"
                .to_owned(),
        )
    }

    pub(super) fn publisher(_: &str, _: &Settings) -> Result<Arc<dyn DynEventPublisher>, CliError> {
        Err(unsupported())
    }

    pub(super) async fn ping(_: &str, _: &Settings, _: Duration) -> Result<(), CliError> {
        Err(unsupported())
    }
}
