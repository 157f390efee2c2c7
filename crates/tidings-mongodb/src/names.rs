use tidings_core::{Error, Result};

/// Where Tidings keeps its collections: a database and the names of the outbox and inbox
/// collections in it. Beside the outbox, `{outbox}_keys` holds each partition key's last
/// sequence. Names are checked against MongoDB's rules when built, so a typo is an
/// error at start-up rather than a collection nobody reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    database: String,
    outbox: String,
    inbox: String,
}

impl Default for Names {
    fn default() -> Self {
        Self {
            database: "tidings".to_owned(),
            outbox: "tidings_outbox".to_owned(),
            inbox: "tidings_inbox".to_owned(),
        }
    }
}

impl Names {
    /// `outbox` and `inbox` collections in `database`.
    pub fn new(database: &str, outbox: &str, inbox: &str) -> Result<Self> {
        validate_database(database)?;
        validate_collection(outbox)?;
        // The keys collection's name is the outbox's and 5 bytes more.
        if outbox.len() > 115 {
            return Err(invalid(
                "outbox collection",
                outbox,
                "it is longer than 115 bytes",
            ));
        }
        validate_collection(inbox)?;
        if outbox == inbox || inbox == format!("{outbox}_keys") {
            return Err(Error::Configuration(format!(
                "the outbox, its keys collection and the inbox need collections of their own: \
                 outbox {outbox:?}, inbox {inbox:?}"
            )));
        }
        Ok(Self {
            database: database.to_owned(),
            outbox: outbox.to_owned(),
            inbox: inbox.to_owned(),
        })
    }

    /// The default collections in `database`.
    pub fn in_database(database: &str) -> Result<Self> {
        let default = Self::default();
        Self::new(database, &default.outbox, &default.inbox)
    }

    /// The database.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The outbox collection.
    pub fn outbox(&self) -> &str {
        &self.outbox
    }

    /// The inbox collection.
    pub fn inbox(&self) -> &str {
        &self.inbox
    }

    /// The collection of each partition key's last sequence: `{outbox}_keys`.
    pub fn keys(&self) -> String {
        format!("{}_keys", self.outbox)
    }
}

fn invalid(what: &str, name: &str, why: &str) -> Error {
    Error::Configuration(format!("invalid MongoDB {what} name {name:?}: {why}"))
}

/// MongoDB's rules for database names (the stricter, Windows set, so that a name works on
/// every server).
fn validate_database(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(invalid("database", name, "it is empty"));
    }
    if name.len() > 63 {
        return Err(invalid("database", name, "it is longer than 63 bytes"));
    }
    if let Some(c) = name.chars().find(|c| {
        matches!(
            c,
            '/' | '\\' | '.' | ' ' | '"' | '$' | '*' | '<' | '>' | ':' | '|' | '?' | '\0'
        )
    }) {
        return Err(invalid("database", name, &format!("it contains {c:?}")));
    }
    Ok(())
}

pub(crate) fn validate_collection(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(invalid("collection", name, "it is empty"));
    }
    if name.len() > 120 {
        return Err(invalid("collection", name, "it is longer than 120 bytes"));
    }
    if name.starts_with("system.") {
        return Err(invalid("collection", name, "system. is reserved"));
    }
    if let Some(c) = name.chars().find(|c| matches!(c, '$' | '\0')) {
        return Err(invalid("collection", name, &format!("it contains {c:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_names_mongodb_would_refuse() {
        assert!(Names::new("app", "outbox", "inbox").is_ok());
        for (database, outbox, inbox) in [
            ("", "o", "i"),
            ("a.b", "o", "i"),
            ("a/b", "o", "i"),
            ("a b", "o", "i"),
            (&"d".repeat(64), "o", "i"),
            ("app", "", "i"),
            ("app", "o$", "i"),
            ("app", "system.outbox", "i"),
            ("app", "same", "same"),
            ("app", "outbox", "outbox_keys"),
        ] {
            let error = Names::new(database, outbox, inbox).expect_err(database);
            assert!(matches!(error, Error::Configuration(_)), "{error}");
        }
    }
}
