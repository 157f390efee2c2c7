//! The security settings of a [`KafkaConfig`], checked before any client is made: a protocol
//! or SASL mechanism librdkafka would refuse (or, worse, accept and then fail to connect with)
//! is a configuration error that names the setting.

use std::path::Path;

use tidings_core::{Error, Result};

use crate::KafkaConfig;

const PROTOCOLS: [&str; 4] = ["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"];
const MECHANISMS: [&str; 4] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"];

fn refuse(message: String) -> Error {
    Error::Configuration(message)
}

/// The security settings as librdkafka will get them: the typed fields, then the extra
/// properties over them (they win in the client too); empty values are unset.
struct Effective {
    protocol: Option<String>,
    mechanism: Option<String>,
    username: bool,
    password: bool,
    ca: Option<String>,
    certificate: Option<String>,
    key: Option<String>,
    /// A certificate or key given inline (`ssl.certificate.pem`, `ssl.key.pem`).
    certificate_pem: bool,
    key_pem: bool,
    oauth_method: Option<String>,
}

impl Effective {
    fn of(config: &KafkaConfig) -> Self {
        let property = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| config.properties.get(*n))
                .filter(|v| !v.is_empty())
                .cloned()
        };
        let typed = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        Self {
            protocol: property(&["security.protocol"]).or_else(|| typed(&config.security_protocol)),
            mechanism: property(&["sasl.mechanism", "sasl.mechanisms"])
                .or_else(|| typed(&config.sasl_mechanism)),
            username: property(&["sasl.username"]).is_some()
                || typed(&config.sasl_username).is_some(),
            password: property(&["sasl.password"]).is_some()
                || config
                    .sasl_password
                    .as_ref()
                    .is_some_and(|p| !p.expose().is_empty()),
            ca: property(&["ssl.ca.location"]).or_else(|| typed(&config.ssl_ca_location)),
            certificate: property(&["ssl.certificate.location"])
                .or_else(|| typed(&config.ssl_certificate_location)),
            key: property(&["ssl.key.location"]).or_else(|| typed(&config.ssl_key_location)),
            certificate_pem: property(&["ssl.certificate.pem"]).is_some(),
            key_pem: property(&["ssl.key.pem"]).is_some(),
            oauth_method: property(&["sasl.oauthbearer.method"]),
        }
    }
}

/// The canonical name librdkafka compares against (it compares case-sensitively).
pub(crate) fn canonical_mechanism(given: &str) -> String {
    given.to_ascii_uppercase()
}

/// Checks the protocol, the SASL mechanism and its credentials, and the SSL files.
pub(crate) fn check(config: &KafkaConfig) -> Result<()> {
    let effective = Effective::of(config);
    let protocol = match effective.protocol.as_deref() {
        None => "plaintext".to_owned(),
        Some(given) => {
            let lower = given.to_ascii_lowercase();
            if !PROTOCOLS.contains(&lower.as_str()) {
                return Err(refuse(format!(
                    "security protocol {given:?} is not one of {}",
                    PROTOCOLS.join(", ")
                )));
            }
            lower
        }
    };
    check_sasl(&effective, &protocol)?;
    check_ssl(&effective, &protocol)
}

fn check_sasl(config: &Effective, protocol: &str) -> Result<()> {
    let sasl = protocol.starts_with("sasl_");
    let Some(given) = config.mechanism.as_deref() else {
        return match sasl {
            true => Err(refuse(format!(
                "security protocol {protocol} needs a SASL mechanism ({})",
                MECHANISMS.join(", ")
            ))),
            false => Ok(()),
        };
    };
    let mechanism = canonical_mechanism(given);
    if mechanism == "GSSAPI" {
        return Err(refuse(
            "SASL mechanism GSSAPI (Kerberos) is not supported: Tidings' librdkafka is built \
             without Kerberos; use SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"
                .to_owned(),
        ));
    }
    if !MECHANISMS.contains(&mechanism.as_str()) {
        return Err(refuse(format!(
            "SASL mechanism {given:?} is not one of {}",
            MECHANISMS.join(", ")
        )));
    }
    if !sasl {
        return Err(refuse(format!(
            "SASL mechanism {mechanism} needs security protocol sasl_plaintext or sasl_ssl, \
             not {protocol}"
        )));
    }
    if mechanism == "OAUTHBEARER" {
        return match config.oauth_method.as_deref() {
            Some(method) if method.eq_ignore_ascii_case("oidc") => Err(refuse(
                "sasl.oauthbearer.method oidc is not supported: Tidings' librdkafka is built \
                 without curl; give a token through sasl.oauthbearer.config"
                    .to_owned(),
            )),
            _ => Ok(()),
        };
    }
    let missing = [
        ("sasl username", config.username),
        ("sasl password", config.password),
    ]
    .into_iter()
    .find(|(_, given)| !given);
    match missing {
        Some((setting, _)) => Err(refuse(format!(
            "SASL mechanism {mechanism} needs a {setting}"
        ))),
        None => Ok(()),
    }
}

fn check_ssl(config: &Effective, protocol: &str) -> Result<()> {
    let files = [
        ("ssl CA location", &config.ca),
        ("ssl certificate location", &config.certificate),
        ("ssl key location", &config.key),
    ];
    let tls = protocol.ends_with("ssl");
    for (setting, path) in files {
        let Some(path) = path else { continue };
        if !tls {
            return Err(refuse(format!(
                "{setting} {path:?} is set, but security protocol {protocol} does not use TLS \
                 (ssl or sasl_ssl)"
            )));
        }
        // librdkafka takes a directory of CA certificates, or `probe` for the system's, too.
        let is_ca = setting == "ssl CA location";
        let found =
            Path::new(path).is_file() || (is_ca && (path == "probe" || Path::new(path).is_dir()));
        if !found {
            return Err(refuse(format!("{setting} {path:?} is not a readable file")));
        }
    }
    let has_key = config.key.is_some() || config.key_pem;
    let has_certificate = config.certificate.is_some() || config.certificate_pem;
    if has_key != has_certificate {
        return Err(refuse(
            "ssl key location and ssl certificate location go together: a client certificate \
             needs its key"
                .to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    fn config() -> KafkaConfig {
        KafkaConfig::new("broker:9092")
    }

    fn refused(config: &KafkaConfig) -> String {
        check(config).expect_err("refused").to_string()
    }

    #[test]
    fn each_supported_mechanism_passes_with_what_it_needs() {
        for mechanism in ["PLAIN", "SCRAM-SHA-256", "scram-sha-512"] {
            let sasl = config().with_sasl("SASL_SSL", mechanism, "svc", Secret::new("pw"));
            check(&sasl).unwrap_or_else(|e| panic!("{mechanism}: {e}"));
        }
        let mut oauth = config();
        oauth.security_protocol = Some("sasl_ssl".into());
        oauth.sasl_mechanism = Some("OAUTHBEARER".into());
        check(&oauth).expect("no user or password for a token");
        check(&config()).expect("plaintext");
    }

    #[test]
    fn a_bad_mechanism_or_protocol_is_refused_naming_it() {
        let mut unknown = config().with_sasl("sasl_ssl", "SCRAM-SHA-1", "u", Secret::new("p"));
        assert!(refused(&unknown).contains(r#""SCRAM-SHA-1" is not one of PLAIN"#));
        unknown.sasl_mechanism = Some("GSSAPI".into());
        assert!(refused(&unknown).contains("GSSAPI (Kerberos) is not supported"));
        let mut protocol = config();
        protocol.security_protocol = Some("tls".into());
        assert!(refused(&protocol).contains(r#"security protocol "tls" is not one of"#));
        let mut plain_sasl = config().with_sasl("plaintext", "PLAIN", "u", Secret::new("p"));
        assert!(refused(&plain_sasl).contains("needs security protocol sasl_plaintext"));
        plain_sasl.security_protocol = Some("sasl_plaintext".into());
        plain_sasl.sasl_password = None;
        assert!(refused(&plain_sasl).contains("PLAIN needs a sasl password"));
        let mut no_mechanism = config();
        no_mechanism.security_protocol = Some("SASL_SSL".into());
        assert!(refused(&no_mechanism).contains("needs a SASL mechanism"));
    }

    #[test]
    fn properties_count_as_librdkafka_sees_them_and_empty_values_are_unset() {
        let mut by_property = config();
        by_property.security_protocol = Some("sasl_ssl".into());
        by_property
            .properties
            .insert("sasl.mechanisms".into(), "SCRAM-SHA-256".into());
        by_property
            .properties
            .insert("sasl.username".into(), "svc".into());
        by_property
            .properties
            .insert("sasl.password".into(), "pw".into());
        check(&by_property).expect("the mechanism and credentials as properties");
        let mut empty = config();
        empty.ssl_ca_location = Some(String::new());
        check(&empty).expect("an empty CA location is unset");
        let mut probe = config();
        probe.security_protocol = Some("ssl".into());
        probe.ssl_ca_location = Some("probe".into());
        check(&probe).expect("probe");
        probe.ssl_ca_location = Some(std::env::temp_dir().display().to_string());
        check(&probe).expect("a directory of CA certificates");
        let mut oidc = config();
        oidc.security_protocol = Some("sasl_ssl".into());
        oidc.sasl_mechanism = Some("OAUTHBEARER".into());
        oidc.properties
            .insert("sasl.oauthbearer.method".into(), "oidc".into());
        assert!(refused(&oidc).contains("oidc is not supported"));
        let mut back_to_plain = config().with_sasl("sasl_ssl", "PLAIN", "u", Secret::new("p"));
        back_to_plain
            .properties
            .insert("security.protocol".into(), "plaintext".into());
        assert!(refused(&back_to_plain).contains("needs security protocol sasl_plaintext"));
    }

    #[test]
    fn ssl_files_must_exist_and_go_with_tls() {
        let dir = std::env::temp_dir();
        let ca = dir.join(format!("tidings-ca-{}.pem", std::process::id()));
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----").expect("write");
        let mut tls = config();
        tls.security_protocol = Some("ssl".into());
        tls.ssl_ca_location = Some(ca.display().to_string());
        check(&tls).expect("a CA file that exists");
        tls.ssl_ca_location = Some("/nonexistent/ca.pem".into());
        assert!(
            refused(&tls)
                .contains(r#"ssl CA location "/nonexistent/ca.pem" is not a readable file"#)
        );
        tls.ssl_ca_location = Some(ca.display().to_string());
        tls.ssl_key_location = Some(ca.display().to_string());
        assert!(refused(&tls).contains("go together"));
        tls.security_protocol = None;
        tls.ssl_key_location = None;
        assert!(refused(&tls).contains("does not use TLS"));
        std::fs::remove_file(ca).expect("remove");
    }
}
