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

/// Checks the protocol, the SASL mechanism and its credentials, and the SSL files.
pub(crate) fn check(config: &KafkaConfig) -> Result<()> {
    let protocol = match config.security_protocol.as_deref() {
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
    check_sasl(config, &protocol)?;
    check_ssl(config, &protocol)
}

fn check_sasl(config: &KafkaConfig, protocol: &str) -> Result<()> {
    let sasl = protocol.starts_with("sasl_");
    let Some(given) = config.sasl_mechanism.as_deref() else {
        return match sasl {
            true => Err(refuse(format!(
                "security protocol {protocol} needs a SASL mechanism ({})",
                MECHANISMS.join(", ")
            ))),
            false => Ok(()),
        };
    };
    let mechanism = given.to_ascii_uppercase();
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
    let needs_credentials = mechanism != "OAUTHBEARER";
    let missing = [
        ("sasl username", config.sasl_username.is_none()),
        ("sasl password", config.sasl_password.is_none()),
    ]
    .into_iter()
    .find(|(_, missing)| needs_credentials && *missing);
    match missing {
        Some((setting, _)) => Err(refuse(format!(
            "SASL mechanism {mechanism} needs a {setting}"
        ))),
        None => Ok(()),
    }
}

fn check_ssl(config: &KafkaConfig, protocol: &str) -> Result<()> {
    let files = [
        ("ssl CA location", &config.ssl_ca_location),
        ("ssl certificate location", &config.ssl_certificate_location),
        ("ssl key location", &config.ssl_key_location),
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
        if !Path::new(path).is_file() {
            return Err(refuse(format!("{setting} {path:?} is not a readable file")));
        }
    }
    if config.ssl_key_location.is_some() != config.ssl_certificate_location.is_some() {
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
