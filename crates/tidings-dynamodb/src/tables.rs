use tidings_core::{Error, Result};

/// The names of the two tables Tidings keeps: the outbox (rows and one item per partition key)
/// and the inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tables {
    outbox: String,
    inbox: String,
}

impl Default for Tables {
    fn default() -> Self {
        Self {
            outbox: "tidings_outbox".to_owned(),
            inbox: "tidings_inbox".to_owned(),
        }
    }
}

impl Tables {
    /// Tables with the given names, checked against DynamoDB's naming rules.
    pub fn new(outbox: impl Into<String>, inbox: impl Into<String>) -> Result<Self> {
        let tables = Self {
            outbox: outbox.into(),
            inbox: inbox.into(),
        };
        validate(&tables.outbox)?;
        validate(&tables.inbox)?;
        if tables.outbox == tables.inbox {
            return Err(Error::Configuration(format!(
                "the outbox and the inbox need tables of their own, not both {:?}",
                tables.outbox
            )));
        }
        Ok(tables)
    }

    /// `<prefix>_tidings_outbox` and `<prefix>_tidings_inbox`, for several services (or
    /// tests) in one account and region.
    pub fn prefixed(prefix: &str) -> Result<Self> {
        Self::new(
            format!("{prefix}_tidings_outbox"),
            format!("{prefix}_tidings_inbox"),
        )
    }

    /// The outbox table.
    pub fn outbox(&self) -> &str {
        &self.outbox
    }

    /// The inbox table.
    pub fn inbox(&self) -> &str {
        &self.inbox
    }
}

/// DynamoDB table names: 3 to 255 of `a-z A-Z 0-9 _ - .`.
pub(crate) fn validate(name: &str) -> Result<()> {
    let fits = (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if fits {
        Ok(())
    } else {
        Err(Error::Configuration(format!(
            "{name:?} is not a DynamoDB table name: use 3 to 255 letters, digits, '_', '-' or '.'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dynamodb_rules() {
        assert!(Tables::prefixed("shop").is_ok());
        assert_eq!(
            Tables::prefixed("shop").unwrap().inbox(),
            "shop_tidings_inbox"
        );
        for bad in ["ab", "has space", "slash/", &"x".repeat(256)] {
            let error = Tables::new(bad, "inbox_table").unwrap_err();
            assert!(matches!(error, Error::Configuration(_)), "{bad}: {error}");
        }
        assert!(Tables::new("same", "same").is_err());
    }
}
