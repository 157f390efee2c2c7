use tidings_core::{Error, Result};

/// Where the Tidings tables live. Every name is checked to be a plain lower-case SQL identifier
/// before it is put into a statement, so configuration cannot inject SQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    schema: String,
    outbox: String,
    inbox: String,
}

impl Default for Schema {
    fn default() -> Self {
        Self {
            schema: "public".to_owned(),
            outbox: "tidings_outbox".to_owned(),
            inbox: "tidings_inbox".to_owned(),
        }
    }
}

pub(crate) fn validate(kind: &str, name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let valid = name.len() <= 48
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(Error::Configuration(format!(
            "{kind} name {name:?} must be 1 to 48 characters of a-z, 0-9 and _, not starting with a digit"
        )))
    }
}

impl Schema {
    /// Tables `outbox` and `inbox` in PostgreSQL schema `schema`, all validated.
    pub fn new(schema: &str, outbox: &str, inbox: &str) -> Result<Self> {
        validate("schema", schema)?;
        validate("outbox table", outbox)?;
        validate("inbox table", inbox)?;
        if outbox == inbox {
            return Err(Error::Configuration(
                "the outbox and the inbox need different tables".to_owned(),
            ));
        }
        Ok(Self {
            schema: schema.to_owned(),
            outbox: outbox.to_owned(),
            inbox: inbox.to_owned(),
        })
    }

    /// The default tables in `schema`.
    pub fn in_schema(schema: &str) -> Result<Self> {
        let default = Self::default();
        Self::new(schema, &default.outbox, &default.inbox)
    }

    /// The schema name.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The outbox table, schema-qualified and quoted, for the application's own queries.
    pub fn outbox(&self) -> String {
        format!("\"{}\".\"{}\"", self.schema, self.outbox)
    }

    /// The inbox table, schema-qualified and quoted, for the application's own queries.
    pub fn inbox(&self) -> String {
        format!("\"{}\".\"{}\"", self.schema, self.inbox)
    }

    /// The LISTEN/NOTIFY channel that staging notifies.
    pub fn channel(&self) -> String {
        format!("tidings_{}_{}", self.schema, self.outbox)
    }

    /// The DDL for these tables (idempotent). Apply it with your own migration tool, or let
    /// [`PostgresBackend::migrate`](crate::PostgresBackend::migrate) do it.
    pub fn migration_sql(&self) -> String {
        let index = |suffix: &str| format!("\"{}_{}\"", self.outbox, suffix);
        format!(
            include_str!("../sql/template.sql"),
            schema = format_args!("\"{}\"", self.schema),
            outbox = self.outbox(),
            inbox = self.inbox(),
            outbox_unfinished_by_key = index("unfinished_by_key"),
            outbox_unfinished = index("unfinished"),
            outbox_published = index("published"),
            outbox_dead = index("dead"),
            inbox_received = format!("\"{}_received\"", self.inbox),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_names_that_could_inject_sql() {
        for bad in [
            "",
            "Public",
            "a-b",
            "x\"; DROP TABLE t; --",
            "1abc",
            &"a".repeat(49),
        ] {
            let err = Schema::in_schema(bad).expect_err(bad);
            assert!(err.to_string().contains("must be"), "{err}");
        }
        assert!(Schema::new("s", "same", "same").is_err());
        assert!(Schema::new("app_1", "events_out", "events_in").is_ok());
    }

    #[test]
    fn the_shipped_sql_is_the_default_schema() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/tidings.sql");
        if std::env::var_os("TIDINGS_BLESS").is_some() {
            std::fs::write(path, Schema::default().migration_sql()).expect("write sql/tidings.sql");
        }
        assert_eq!(
            std::fs::read_to_string(path).expect("read sql/tidings.sql"),
            Schema::default().migration_sql(),
            "sql/tidings.sql is stale: run the test with TIDINGS_BLESS=1"
        );
    }
}
