//! Other systems' names for our settings, read as ours: HuleEdu's relay settings and XZepr's
//! Kafka shape (`kafka.brokers`, `kafka.auth.sasl.*`, `kafka.auth.ssl.*`). Each layer (a file,
//! the environment) is renamed on its own, so a later layer still wins over an earlier one.

use figment::{
    Figment,
    providers::{Format, Serialized, Toml, Yaml},
};
use std::path::Path;

use crate::error::CliError;

/// Their name and ours, each a dotted path.
const THEIR_NAMES: [(&str, &str); 13] = [
    // HuleEdu
    ("relay.poll_interval_seconds", "relay.poll_interval"),
    (
        "relay.error_retry_interval_seconds",
        "relay.error_retry_interval",
    ),
    ("relay.enable_metrics", "relay.metrics"),
    ("relay.retry.max_retries", "relay.retry.max_attempts"),
    // XZepr
    ("kafka.brokers", "kafka.bootstrap_servers"),
    ("kafka.auth.security_protocol", "kafka.security_protocol"),
    ("kafka.auth.sasl.mechanism", "kafka.sasl_mechanism"),
    ("kafka.auth.sasl.username", "kafka.sasl_username"),
    ("kafka.auth.sasl.password", "kafka.sasl_password"),
    ("kafka.auth.ssl.ca_location", "kafka.ssl_ca_location"),
    (
        "kafka.auth.ssl.certificate_location",
        "kafka.ssl_certificate_location",
    ),
    ("kafka.auth.ssl.key_location", "kafka.ssl_key_location"),
    ("kafka.auth.ssl.key_password", "kafka.ssl_key_password"),
];

/// `key` (dotted) under our name for it.
pub(super) fn own_name(key: &str) -> String {
    THEIR_NAMES
        .iter()
        .find(|(theirs, _)| key.eq_ignore_ascii_case(theirs))
        .map_or_else(|| key.to_owned(), |(_, ours)| (*ours).to_owned())
}

/// Merges `file`, YAML when it ends in `.yaml` or `.yml` and TOML otherwise, its keys renamed
/// to ours.
pub(super) fn merge_file(figment: Figment, file: &Path) -> Result<Figment, CliError> {
    let yaml = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    let read = if yaml {
        Figment::from(Yaml::file(file)).extract::<toml::Table>()
    } else {
        Figment::from(Toml::file(file)).extract::<toml::Table>()
    };
    let mut table =
        read.map_err(|e| CliError::Config(format!("config file {}: {e}", file.display())))?;
    let renamed = rename(&mut table)?;
    refuse_unknown_auth(&table)?;
    if !renamed {
        return Ok(if yaml {
            figment.merge(Yaml::file(file))
        } else {
            figment.merge(Toml::file(file))
        });
    }
    Ok(figment.merge(Serialized::defaults(table)))
}

/// Moves each of their keys in `table` to ours; whether there were any. A table holding both
/// names of one setting is refused: which was meant cannot be known.
fn rename(table: &mut toml::Table) -> Result<bool, CliError> {
    let mut renamed = false;
    for (theirs, ours) in THEIR_NAMES {
        let Some(value) = take(table, theirs) else {
            continue;
        };
        if !put(table, ours, value) {
            return Err(CliError::Config(format!(
                "{theirs} and {ours} are one setting: give one of them"
            )));
        }
        renamed = true;
    }
    if renamed {
        drop_emptied(table);
    }
    Ok(renamed)
}

fn take(table: &mut toml::Table, path: &str) -> Option<toml::Value> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let leaf = parts.pop()?;
    let mut node = table;
    for part in parts {
        node = node.get_mut(part)?.as_table_mut()?;
    }
    node.remove(leaf)
}

/// Sets `path` to `value`, making the tables on the way; `false` if it is set already.
fn put(table: &mut toml::Table, path: &str, value: toml::Value) -> bool {
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(leaf) = parts.pop() else {
        return false;
    };
    let mut node = table;
    for part in parts {
        let next = node
            .entry(part)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(next) = next.as_table_mut() else {
            return false;
        };
        node = next;
    }
    if node.contains_key(leaf) {
        return false;
    }
    node.insert(leaf.to_owned(), value);
    true
}

/// Removes the tables that renaming left empty (`kafka.auth` once its keys moved out), which
/// would otherwise be unknown keys.
fn drop_emptied(table: &mut toml::Table) {
    for (_, value) in table.iter_mut() {
        if let Some(inner) = value.as_table_mut() {
            drop_emptied(inner);
        }
    }
    table.retain(|_, value| value.as_table().is_none_or(|t| !t.is_empty()));
}

/// A key left under `kafka.auth` after renaming is one of XZepr's misspelt: name it in full,
/// with the keys that would have been read, rather than let the whole `auth` table be unknown.
fn refuse_unknown_auth(table: &toml::Table) -> Result<(), CliError> {
    let auth = table
        .get("kafka")
        .and_then(toml::Value::as_table)
        .and_then(|kafka| kafka.get("auth"));
    let Some(path) = auth.and_then(|auth| first_leaf("kafka.auth", auth)) else {
        return Ok(());
    };
    let known: Vec<&str> = THEIR_NAMES
        .iter()
        .filter_map(|(theirs, _)| theirs.strip_prefix("kafka.auth."))
        .collect();
    Err(CliError::Config(format!(
        "unknown key {path:?}: the kafka.auth keys are {}",
        known.join(", ")
    )))
}

/// The dotted path of the first value under `value` that is not a table, if any.
fn first_leaf(path: &str, value: &toml::Value) -> Option<String> {
    let Some(table) = value.as_table() else {
        return Some(path.to_owned());
    };
    table
        .iter()
        .find_map(|(key, inner)| first_leaf(&format!("{path}.{key}"), inner))
}
