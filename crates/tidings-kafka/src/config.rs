use std::{collections::BTreeMap, env, fmt, time::Duration};

use rdkafka::ClientConfig;
use tidings_core::{Error, Result};

/// A secret (password, key passphrase): kept out of `Debug` output and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for handing to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

/// Property names whose values are secrets, also among the extra librdkafka properties.
fn is_secret_property(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["password", "secret", "key.pem", "token", "credentials"]
        .iter()
        .any(|s| name.contains(s))
}

/// How to reach the Kafka cluster: from code with the `with_*` methods, or from the environment
/// with [`from_env`](Self::from_env). `Debug` never shows a secret.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KafkaConfig {
    /// `bootstrap.servers`, e.g. `broker-1:9092,broker-2:9092`.
    pub bootstrap_servers: String,
    /// `client.id`.
    pub client_id: String,
    /// `security.protocol`: `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl`.
    pub security_protocol: Option<String>,
    /// `sasl.mechanism`: `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`…
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
    /// Further librdkafka properties; they override the ones Tidings sets.
    pub properties: BTreeMap<String, String>,
}

impl fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let properties: BTreeMap<&str, &str> = self
            .properties
            .iter()
            .map(|(k, v)| {
                let shown = if is_secret_property(k) {
                    "<redacted>"
                } else {
                    v.as_str()
                };
                (k.as_str(), shown)
            })
            .collect();
        f.debug_struct("KafkaConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("client_id", &self.client_id)
            .field("security_protocol", &self.security_protocol)
            .field("sasl_mechanism", &self.sasl_mechanism)
            .field("sasl_username", &self.sasl_username)
            .field("sasl_password", &self.sasl_password)
            .field("ssl_ca_location", &self.ssl_ca_location)
            .field("ssl_certificate_location", &self.ssl_certificate_location)
            .field("ssl_key_location", &self.ssl_key_location)
            .field("ssl_key_password", &self.ssl_key_password)
            .field("properties", &properties)
            .finish()
    }
}

impl KafkaConfig {
    /// A plaintext connection to `bootstrap_servers`.
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            client_id: "tidings".to_owned(),
            security_protocol: None,
            sasl_mechanism: None,
            sasl_username: None,
            sasl_password: None,
            ssl_ca_location: None,
            ssl_certificate_location: None,
            ssl_key_location: None,
            ssl_key_password: None,
            properties: BTreeMap::new(),
        }
    }

    /// Reads `KAFKA_BOOTSTRAP_SERVERS` (required), `KAFKA_CLIENT_ID`, `KAFKA_SECURITY_PROTOCOL`,
    /// `KAFKA_SASL_MECHANISM`, `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD`,
    /// `KAFKA_SSL_CA_LOCATION`, `KAFKA_SSL_CERTIFICATE_LOCATION`, `KAFKA_SSL_KEY_LOCATION`,
    /// `KAFKA_SSL_KEY_PASSWORD`, and any `KAFKA_PROPERTY_<NAME>` as the librdkafka property
    /// `<name>` with `_` read as `.` (`KAFKA_PROPERTY_LINGER_MS=1` sets `linger.ms`).
    pub fn from_env() -> Result<Self> {
        Self::from_vars(env::vars())
    }

    /// [`from_env`](Self::from_env) over any set of variables.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self> {
        let vars: BTreeMap<String, String> = vars.into_iter().collect();
        let get = |name: &str| vars.get(name).filter(|v| !v.is_empty()).cloned();
        let servers = get("KAFKA_BOOTSTRAP_SERVERS")
            .ok_or_else(|| Error::Configuration("KAFKA_BOOTSTRAP_SERVERS is not set".to_owned()))?;
        let mut config = Self::new(servers);
        if let Some(id) = get("KAFKA_CLIENT_ID") {
            config.client_id = id;
        }
        config.security_protocol = get("KAFKA_SECURITY_PROTOCOL");
        config.sasl_mechanism = get("KAFKA_SASL_MECHANISM");
        config.sasl_username = get("KAFKA_SASL_USERNAME");
        config.sasl_password = get("KAFKA_SASL_PASSWORD").map(Secret);
        config.ssl_ca_location = get("KAFKA_SSL_CA_LOCATION");
        config.ssl_certificate_location = get("KAFKA_SSL_CERTIFICATE_LOCATION");
        config.ssl_key_location = get("KAFKA_SSL_KEY_LOCATION");
        config.ssl_key_password = get("KAFKA_SSL_KEY_PASSWORD").map(Secret);
        for (name, value) in &vars {
            if let Some(property) = name.strip_prefix("KAFKA_PROPERTY_") {
                config.properties.insert(
                    property.to_ascii_lowercase().replace('_', "."),
                    value.clone(),
                );
            }
        }
        Ok(config)
    }

    /// Sets `client.id`.
    pub fn with_client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// Uses SASL with `mechanism`, `username` and `password` over `protocol`
    /// (`sasl_plaintext` or `sasl_ssl`).
    pub fn with_sasl(
        mut self,
        protocol: &str,
        mechanism: &str,
        username: &str,
        password: Secret,
    ) -> Self {
        self.security_protocol = Some(protocol.to_owned());
        self.sasl_mechanism = Some(mechanism.to_owned());
        self.sasl_username = Some(username.to_owned());
        self.sasl_password = Some(password);
        self
    }

    /// Sets a librdkafka property.
    pub fn with_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(name.into(), value.into());
        self
    }

    /// Checks the security settings — protocol, SASL mechanism and credentials, SSL files —
    /// without connecting: each client does before it is made. An unknown mechanism, GSSAPI
    /// (not built), or a file that is not there is an error naming the setting.
    pub fn validate(&self) -> Result<()> {
        crate::security::check(self)
    }

    /// The librdkafka configuration, once the settings are checked: connection settings
    /// first, then `defaults`, then the extra properties, so a user's property always wins.
    pub(crate) fn client_config(&self, defaults: &[(&str, String)]) -> Result<ClientConfig> {
        self.validate()?;
        // librdkafka compares mechanisms case-sensitively: `scram-sha-512` is sent as it knows it.
        let mechanism = self
            .sasl_mechanism
            .as_deref()
            .map(crate::security::canonical_mechanism);
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_servers);
        config.set("client.id", &self.client_id);
        let optional = [
            ("security.protocol", self.security_protocol.as_deref()),
            ("sasl.mechanism", mechanism.as_deref()),
            ("sasl.username", self.sasl_username.as_deref()),
            (
                "sasl.password",
                self.sasl_password.as_ref().map(Secret::expose),
            ),
            ("ssl.ca.location", self.ssl_ca_location.as_deref()),
            (
                "ssl.certificate.location",
                self.ssl_certificate_location.as_deref(),
            ),
            ("ssl.key.location", self.ssl_key_location.as_deref()),
            (
                "ssl.key.password",
                self.ssl_key_password.as_ref().map(Secret::expose),
            ),
        ];
        for (name, value) in optional {
            // An empty value (an empty variable) is no setting.
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                config.set(name, value);
            }
        }
        for (name, value) in defaults {
            config.set(*name, value);
        }
        for (name, value) in &self.properties {
            config.set(name, value);
        }
        Ok(config)
    }
}

pub(crate) fn millis(duration: Duration) -> String {
    duration.as_millis().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_the_environment_and_never_shows_secrets() {
        let config = KafkaConfig::from_vars(vars(&[
            ("KAFKA_BOOTSTRAP_SERVERS", "b1:9092,b2:9092"),
            ("KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
            ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
            ("KAFKA_SASL_USERNAME", "svc"),
            ("KAFKA_SASL_PASSWORD", "hunter2"),
            ("KAFKA_SSL_KEY_PASSWORD", "pem-pass"),
            ("KAFKA_PROPERTY_LINGER_MS", "3"),
            (
                "KAFKA_PROPERTY_SASL_OAUTHBEARER_CLIENT_SECRET",
                "oauth-secret",
            ),
        ]))
        .expect("valid");
        assert_eq!(config.bootstrap_servers, "b1:9092,b2:9092");
        assert_eq!(
            config.properties.get("linger.ms").map(String::as_str),
            Some("3")
        );
        let shown = format!("{config:?}");
        for secret in ["hunter2", "pem-pass", "oauth-secret"] {
            assert!(!shown.contains(secret), "{secret} leaked into {shown}");
        }
        assert!(
            shown.contains("svc") && shown.contains("SCRAM-SHA-512"),
            "{shown}"
        );
        let client = config
            .client_config(&[("linger.ms", "5".to_owned())])
            .expect("valid settings");
        assert_eq!(client.get("sasl.password"), Some("hunter2"));
        assert_eq!(
            client.get("linger.ms"),
            Some("3"),
            "user properties must win"
        );
    }

    #[test]
    fn a_missing_bootstrap_server_is_a_configuration_error() {
        let err = KafkaConfig::from_vars(vars(&[("KAFKA_CLIENT_ID", "x")])).expect_err("missing");
        assert!(matches!(err, Error::Configuration(_)), "{err}");
    }
}
