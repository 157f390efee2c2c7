//! The statements, one `.sql` file each in `sql/statements/`, filled in once per schema. A file
//! names what varies as `{name}`: the schema's tables and the shared fragments (the claim
//! rule, the asynchronous-commit setting, column lists). Whole-line `--` comments say why and
//! are left out of what is sent.

use crate::{
    Schema,
    columns::{ENVELOPE_ARRAYS, ENVELOPE_FIELDS},
};

/// Columns a claim returns, from the outbox aliased `o`.
const RETURNED_COLUMNS: &str = "o.sequence, o.id, o.topic, o.partition_key, o.message_type, \
     o.source, o.event_time, o.subject, o.data_schema, o.content_type, o.extensions, o.payload, \
     o.correlation_id, o.causation_id, o.traceparent, o.status, o.attempts, o.last_error, \
     o.created_at";

/// Columns of a whole outbox row.
const ENVELOPE_COLUMNS: &str = "sequence, id, topic, partition_key, message_type, source, \
     event_time, subject, data_schema, content_type, extensions, payload, correlation_id, \
     causation_id, traceparent, status, attempts, last_error, created_at";

/// Statement texts, built once from the validated schema.
#[derive(Debug)]
pub(crate) struct Statements {
    pub(crate) stage: String,
    pub(crate) notify_channel: String,
    pub(crate) claim: String,
    pub(crate) claim_by_key: String,
    pub(crate) settle: String,
    pub(crate) settle_deleting: String,
    pub(crate) purge_published: String,
    pub(crate) stats: String,
    pub(crate) claim_message: String,
    pub(crate) purge_inbox: String,
    pub(crate) inbox_contains: String,
    pub(crate) list_dead: String,
    pub(crate) retry_dead: String,
    pub(crate) purge_dead: String,
    pub(crate) topic_stats: String,
    pub(crate) list_published: String,
}

/// `template` without its whole-line comments, each `{name}` replaced by its value.
fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

impl Statements {
    pub(crate) fn new(schema: &Schema) -> Self {
        let (outbox, inbox) = (schema.outbox(), schema.inbox());
        let claimable = render(include_str!("../sql/statements/claimable.sql"), &[]);
        let async_commit = render(include_str!("../sql/statements/async_commit.sql"), &[]);
        let shared = [
            ("outbox", outbox.as_str()),
            ("inbox", inbox.as_str()),
            ("claimable", claimable.as_str()),
            ("async_commit", async_commit.as_str()),
            ("returned", RETURNED_COLUMNS),
            ("envelope_columns", ENVELOPE_COLUMNS),
            ("envelope_fields", ENVELOPE_FIELDS),
            ("envelope_arrays", ENVELOPE_ARRAYS),
        ];
        let statement = |template: &str| render(template, &shared);
        let claim = |prelude: &str, heads: &str| {
            let (prelude, heads) = (render(prelude, &[]), render(heads, &[]));
            let claim = render(
                include_str!("../sql/statements/claim.sql"),
                &[("prelude", prelude.as_str()), ("heads", heads.as_str())],
            );
            statement(&claim)
        };
        Self {
            stage: statement(include_str!("../sql/statements/stage.sql")),
            notify_channel: schema.channel(),
            claim: claim("", include_str!("../sql/statements/heads_in_window.sql")),
            claim_by_key: claim(
                include_str!("../sql/statements/keys_walk.sql"),
                include_str!("../sql/statements/heads_by_key.sql"),
            ),
            settle: statement(include_str!("../sql/statements/settle.sql")),
            settle_deleting: statement(include_str!("../sql/statements/settle_deleting.sql")),
            purge_published: statement(include_str!("../sql/statements/purge_published.sql")),
            stats: statement(include_str!("../sql/statements/stats.sql")),
            claim_message: statement(include_str!("../sql/statements/claim_message.sql")),
            purge_inbox: statement(include_str!("../sql/statements/purge_inbox.sql")),
            inbox_contains: statement(include_str!("../sql/statements/inbox_contains.sql")),
            list_dead: statement(include_str!("../sql/statements/list_dead.sql")),
            topic_stats: statement(include_str!("../sql/statements/topic_stats.sql")),
            list_published: statement(include_str!("../sql/statements/list_published.sql")),
            retry_dead: statement(include_str!("../sql/statements/retry_dead.sql")),
            purge_dead: statement(include_str!("../sql/statements/purge_dead.sql")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_statement_is_filled_in() {
        let statements = Statements::new(&Schema::in_schema("app").expect("schema"));
        for text in [
            &statements.stage,
            &statements.claim,
            &statements.claim_by_key,
            &statements.settle,
            &statements.settle_deleting,
            &statements.purge_published,
            &statements.stats,
            &statements.claim_message,
            &statements.purge_inbox,
            &statements.inbox_contains,
            &statements.list_dead,
            &statements.retry_dead,
            &statements.purge_dead,
            &statements.topic_stats,
            &statements.list_published,
        ] {
            assert!(!text.contains('{'), "a placeholder is left: {text}");
            assert!(!text.contains("--"), "a comment is left: {text}");
            assert!(text.contains("\"app\"."), "{text}");
        }
        assert!(statements.claim.contains("FOR UPDATE OF o SKIP LOCKED"));
        assert!(
            statements
                .claim_by_key
                .starts_with("WITH RECURSIVE keys(k)")
        );
    }
}
