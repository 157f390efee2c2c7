//! `EventConfig`: what a service's typed events need to know, from code or from the
//! environment, checked before anything is sent.

use std::{collections::BTreeMap, fmt};

use crate::{EventError, TopicNames};

/// The variables [`EventConfig::from_env`] reads, by the names services migrating to Tidings
/// already set.
pub const VARIABLES: [&str; 12] = [
    "KAFKA_BROKERS",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "EVENT_TOPIC_PREFIX",
    "SERVICE_NAME",
    "SERVICE_VERSION",
    "USE_OUTBOX_PATTERN",
    "ENABLE_EVENT_TRACING",
    "ENABLE_EVENT_METRICS",
];

const PROTOCOLS: [&str; 4] = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];
const MECHANISMS: [&str; 5] = [
    "PLAIN",
    "SCRAM-SHA-256",
    "SCRAM-SHA-512",
    "GSSAPI",
    "OAUTHBEARER",
];

/// How a service publishes its typed events. Build it in code ([`new`](Self::new) and the
/// `with_…` methods) or from the environment ([`from_env`](Self::from_env)); either way
/// [`topics`](Self::topics) checks it. `Debug` shows the SASL password as `***`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventConfig {
    /// Kafka brokers (`host:port`), for direct publishing and the relay.
    pub kafka_brokers: Vec<String>,
    /// `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    pub security_protocol: Option<String>,
    /// `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`, `GSSAPI` or `OAUTHBEARER`.
    pub sasl_mechanism: Option<String>,
    /// The SASL user.
    pub sasl_username: Option<String>,
    /// The SASL password.
    pub sasl_password: Option<String>,
    /// First part of every topic name; empty for none.
    pub topic_prefix: String,
    /// The service, in domain topics and in every event's metadata.
    pub service_name: String,
    /// Its version, in every event's metadata.
    pub service_version: Option<String>,
    /// Stage events in the caller's unit of work (`true`, the default) rather than send them
    /// to the broker at once.
    pub use_outbox: bool,
    /// Put the current trace id in every event's metadata.
    pub enable_tracing: bool,
    /// Count the events published, by kind.
    pub enable_metrics: bool,
    /// Topic of audit events instead of `{prefix}.audit.events`.
    pub audit_topic: Option<String>,
    /// Topic of notifications instead of `{prefix}.notification.events`.
    pub notification_topic: Option<String>,
}

impl fmt::Debug for EventConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventConfig")
            .field("kafka_brokers", &self.kafka_brokers)
            .field("security_protocol", &self.security_protocol)
            .field("sasl_mechanism", &self.sasl_mechanism)
            .field("sasl_username", &self.sasl_username)
            .field("sasl_password", &self.sasl_password.as_ref().map(|_| "***"))
            .field("topic_prefix", &self.topic_prefix)
            .field("service_name", &self.service_name)
            .field("service_version", &self.service_version)
            .field("use_outbox", &self.use_outbox)
            .field("enable_tracing", &self.enable_tracing)
            .field("enable_metrics", &self.enable_metrics)
            .field("audit_topic", &self.audit_topic)
            .field("notification_topic", &self.notification_topic)
            .finish()
    }
}

impl EventConfig {
    /// The configuration of `service_name`: no prefix, the outbox on, tracing and metrics on.
    pub fn new(service_name: impl Into<String>) -> Self {
        Self {
            kafka_brokers: Vec::new(),
            security_protocol: None,
            sasl_mechanism: None,
            sasl_username: None,
            sasl_password: None,
            topic_prefix: String::new(),
            service_name: service_name.into(),
            service_version: None,
            use_outbox: true,
            enable_tracing: true,
            enable_metrics: true,
            audit_topic: None,
            notification_topic: None,
        }
    }

    /// With `prefix` before every topic name.
    pub fn with_topic_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.topic_prefix = prefix.into();
        self
    }

    /// With the brokers `host:port` for direct publishing.
    pub fn with_kafka_brokers<S: Into<String>>(
        mut self,
        brokers: impl IntoIterator<Item = S>,
    ) -> Self {
        self.kafka_brokers = brokers.into_iter().map(Into::into).collect();
        self
    }

    /// With the service's version.
    pub fn with_service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// Staging in the unit of work (`true`) or sending at once (`false`).
    pub fn with_outbox(mut self, on: bool) -> Self {
        self.use_outbox = on;
        self
    }

    /// Audit events to `topic` instead of `{prefix}.audit.events`.
    pub fn with_audit_topic(mut self, topic: impl Into<String>) -> Self {
        self.audit_topic = Some(topic.into());
        self
    }

    /// Notifications to `topic` instead of `{prefix}.notification.events`.
    pub fn with_notification_topic(mut self, topic: impl Into<String>) -> Self {
        self.notification_topic = Some(topic.into());
        self
    }

    /// Reads [`VARIABLES`] from the environment: `SERVICE_NAME` is required; `KAFKA_BROKERS`
    /// (or the library's `KAFKA_BOOTSTRAP_SERVERS`) is a comma-separated list; the switches
    /// take `true`/`false` (`1`/`0`, `yes`/`no`, `on`/`off`). A bad value is an error that names
    /// the variable.
    pub fn from_env() -> Result<Self, EventError> {
        Self::from_vars(std::env::vars())
    }

    /// [`from_env`](Self::from_env) over any set of variables.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, EventError> {
        let vars: BTreeMap<String, String> = vars
            .into_iter()
            .filter(|(name, value)| VARIABLES.contains(&name.as_str()) && !value.trim().is_empty())
            .collect();
        let get = |name: &str| vars.get(name).map(|v| v.trim().to_owned());
        let service = get("SERVICE_NAME").ok_or(EventError::MissingVariable {
            variable: "SERVICE_NAME",
            why: "it names the service in domain topics and in every event's metadata",
        })?;
        let mut config = Self::new(service);
        let brokers = get("KAFKA_BROKERS").or_else(|| get("KAFKA_BOOTSTRAP_SERVERS"));
        config.kafka_brokers = brokers
            .map(|list| split_brokers(&list))
            .transpose()?
            .unwrap_or_default();
        config.security_protocol = one_of(&vars, "KAFKA_SECURITY_PROTOCOL", &PROTOCOLS)?;
        config.sasl_mechanism = one_of(&vars, "KAFKA_SASL_MECHANISM", &MECHANISMS)?;
        config.sasl_username = get("KAFKA_SASL_USERNAME");
        config.sasl_password = vars.get("KAFKA_SASL_PASSWORD").cloned();
        config.topic_prefix = get("EVENT_TOPIC_PREFIX").unwrap_or_default();
        config.service_version = get("SERVICE_VERSION");
        config.use_outbox = switch(&vars, "USE_OUTBOX_PATTERN", true)?;
        config.enable_tracing = switch(&vars, "ENABLE_EVENT_TRACING", true)?;
        config.enable_metrics = switch(&vars, "ENABLE_EVENT_METRICS", true)?;
        config.check_sasl()?;
        config.topics()?;
        Ok(config)
    }

    /// The topic names, after checking the prefix, the service and the overrides.
    pub fn topics(&self) -> Result<TopicNames, EventError> {
        let mut topics = TopicNames::new(&self.topic_prefix, &self.service_name)?;
        if let Some(topic) = &self.audit_topic {
            topics = topics.with_audit_topic(topic)?;
        }
        if let Some(topic) = &self.notification_topic {
            topics = topics.with_notification_topic(topic)?;
        }
        Ok(topics)
    }

    /// The brokers as `bootstrap.servers` (`host:port,host:port`), if any are set.
    pub fn bootstrap_servers(&self) -> Option<String> {
        (!self.kafka_brokers.is_empty()).then(|| self.kafka_brokers.join(","))
    }

    /// A SASL protocol needs a mechanism, a user and a password.
    fn check_sasl(&self) -> Result<(), EventError> {
        let sasl = self
            .security_protocol
            .as_deref()
            .is_some_and(|p| p.starts_with("SASL"));
        let missing = [
            ("KAFKA_SASL_MECHANISM", self.sasl_mechanism.is_none()),
            ("KAFKA_SASL_USERNAME", self.sasl_username.is_none()),
            ("KAFKA_SASL_PASSWORD", self.sasl_password.is_none()),
        ]
        .into_iter()
        .find(|(_, missing)| sasl && *missing);
        match missing {
            Some((variable, _)) => Err(EventError::MissingVariable {
                variable,
                why: "KAFKA_SECURITY_PROTOCOL asks for SASL",
            }),
            None => Ok(()),
        }
    }
}

fn split_brokers(list: &str) -> Result<Vec<String>, EventError> {
    let brokers: Vec<String> = list.split(',').map(|b| b.trim().to_owned()).collect();
    match brokers.iter().find(|b| !is_host_port(b)) {
        Some(bad) => Err(EventError::InvalidVariable {
            variable: "KAFKA_BROKERS",
            shown: list.to_owned(),
            reason: format!("{bad:?} is not host:port"),
        }),
        None => Ok(brokers),
    }
}

fn is_host_port(broker: &str) -> bool {
    broker
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

/// The value of `variable` if it is one of `allowed` (any case), upper-cased.
fn one_of(
    vars: &BTreeMap<String, String>,
    variable: &'static str,
    allowed: &[&str],
) -> Result<Option<String>, EventError> {
    let Some(value) = vars.get(variable) else {
        return Ok(None);
    };
    let upper = value.trim().to_ascii_uppercase();
    if allowed.contains(&upper.as_str()) {
        return Ok(Some(upper));
    }
    Err(EventError::InvalidVariable {
        variable,
        shown: value.clone(),
        reason: format!("expected one of {}", allowed.join(", ")),
    })
}

fn switch(
    vars: &BTreeMap<String, String>,
    variable: &'static str,
    default: bool,
) -> Result<bool, EventError> {
    let Some(value) = vars.get(variable) else {
        return Ok(default);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(EventError::InvalidVariable {
            variable,
            shown: value.clone(),
            reason: "expected true or false".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_variable_is_read_by_its_name() {
        let config = EventConfig::from_vars(vars(&[
            ("KAFKA_BROKERS", "k1:9092, k2:9093"),
            ("KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
            ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
            ("KAFKA_SASL_USERNAME", "svc"),
            ("KAFKA_SASL_PASSWORD", "hunter2"),
            ("EVENT_TOPIC_PREFIX", "marty"),
            ("SERVICE_NAME", "user-service"),
            ("SERVICE_VERSION", "1.0.0"),
            ("USE_OUTBOX_PATTERN", "false"),
            ("ENABLE_EVENT_TRACING", "0"),
            ("ENABLE_EVENT_METRICS", "yes"),
            ("UNRELATED", "whatever"),
        ]))
        .expect("valid");
        assert_eq!(config.kafka_brokers, ["k1:9092", "k2:9093"]);
        assert_eq!(config.security_protocol.as_deref(), Some("SASL_SSL"));
        assert_eq!(config.sasl_mechanism.as_deref(), Some("SCRAM-SHA-512"));
        assert_eq!(config.sasl_username.as_deref(), Some("svc"));
        assert_eq!(config.sasl_password.as_deref(), Some("hunter2"));
        assert_eq!(
            (config.topic_prefix.as_str(), config.service_name.as_str()),
            ("marty", "user-service")
        );
        assert_eq!(config.service_version.as_deref(), Some("1.0.0"));
        assert!(!config.use_outbox && !config.enable_tracing && config.enable_metrics);
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("***"),
            "{shown}"
        );
        assert_eq!(
            config.topics().expect("valid").audit(),
            "marty.audit.events"
        );
    }

    #[test]
    fn the_library_broker_variable_is_an_alias_and_defaults_hold() {
        let config = EventConfig::from_vars(vars(&[
            ("SERVICE_NAME", "billing"),
            ("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
        ]))
        .expect("valid");
        assert_eq!(
            config.bootstrap_servers().as_deref(),
            Some("localhost:9092")
        );
        assert!(config.use_outbox && config.enable_tracing && config.enable_metrics);
        assert_eq!(config.topic_prefix, "");
    }

    #[test]
    fn a_bad_value_is_an_error_that_names_its_variable() {
        let refused = |pairs: &[(&str, &str)]| {
            let mut all = vec![("SERVICE_NAME", "svc")];
            all.extend_from_slice(pairs);
            EventConfig::from_vars(vars(&all))
                .expect_err("refused")
                .to_string()
        };
        assert_eq!(
            refused(&[("USE_OUTBOX_PATTERN", "maybe")]),
            "USE_OUTBOX_PATTERN=\"maybe\": expected true or false"
        );
        assert!(refused(&[("KAFKA_BROKERS", "k1:9092,k2")]).starts_with("KAFKA_BROKERS="));
        assert!(refused(&[("KAFKA_SECURITY_PROTOCOL", "TLS")]).contains("SASL_SSL"));
        assert!(refused(&[("KAFKA_SASL_MECHANISM", "MD5")]).starts_with("KAFKA_SASL_MECHANISM="));
        assert!(refused(&[("EVENT_TOPIC_PREFIX", "my events")]).starts_with("topic_prefix"));
        let sasl = refused(&[
            ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
            ("KAFKA_SASL_MECHANISM", "PLAIN"),
        ]);
        assert!(sasl.starts_with("KAFKA_SASL_USERNAME is not set"), "{sasl}");
        let missing = EventConfig::from_vars(vars(&[]))
            .expect_err("no service")
            .to_string();
        assert!(missing.starts_with("SERVICE_NAME is not set"), "{missing}");
    }

    #[test]
    fn a_configuration_in_code_is_checked_by_topics() {
        let bad = EventConfig::new("users").with_audit_topic("audit events");
        assert!(
            bad.topics()
                .expect_err("a space")
                .to_string()
                .starts_with("audit_topic")
        );
        let good = EventConfig::new("users")
            .with_topic_prefix("acme")
            .with_notification_topic("mail");
        assert_eq!(good.topics().expect("valid").notification(), "mail");
    }
}
