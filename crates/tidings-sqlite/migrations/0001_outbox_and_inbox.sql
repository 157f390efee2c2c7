-- Tidings schema for SQLite, version 1. Applied by SqliteBackend::migrate; shipped as plain SQL for
-- users who run their own migration tool (apply the files in order; each is idempotent).

CREATE TABLE IF NOT EXISTS tidings_outbox (
    sequence        INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    topic           TEXT    NOT NULL,
    partition_key   TEXT    NOT NULL,
    message_type    TEXT    NOT NULL,
    source          TEXT    NOT NULL,
    event_time      TEXT    NOT NULL,              -- RFC 3339, as sent
    subject         TEXT,
    data_schema     TEXT,
    content_type    TEXT    NOT NULL,
    extensions      TEXT    NOT NULL DEFAULT '{}', -- JSON object
    payload         BLOB    NOT NULL,
    correlation_id  TEXT,
    causation_id    TEXT,
    traceparent     TEXT,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'leased', 'published', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at INTEGER NOT NULL,              -- Unix time in microseconds, as every *_at below
    lease_owner     TEXT,
    lease_until     INTEGER,
    created_at      INTEGER NOT NULL,
    published_at    INTEGER
);

-- Finding the head of each key and the rows behind it touches unfinished rows only.
CREATE INDEX IF NOT EXISTS tidings_outbox_unfinished_by_key
    ON tidings_outbox (partition_key, sequence) WHERE status IN ('pending', 'leased');
CREATE INDEX IF NOT EXISTS tidings_outbox_unfinished
    ON tidings_outbox (sequence) WHERE status IN ('pending', 'leased');
CREATE INDEX IF NOT EXISTS tidings_outbox_published
    ON tidings_outbox (published_at) WHERE status = 'published';
CREATE INDEX IF NOT EXISTS tidings_outbox_dead
    ON tidings_outbox (sequence) WHERE status = 'dead';

CREATE TABLE IF NOT EXISTS tidings_inbox (
    consumer    TEXT    NOT NULL,
    message_id  TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (consumer, message_id)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS tidings_inbox_received ON tidings_inbox (received_at);
