-- Tidings schema for PostgreSQL. Idempotent: every statement can run again.

CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {outbox} (
    sequence        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT        NOT NULL UNIQUE,
    topic           TEXT        NOT NULL,
    partition_key   TEXT        NOT NULL,
    message_type    TEXT        NOT NULL,
    source          TEXT        NOT NULL,
    event_time      TIMESTAMPTZ NOT NULL,
    subject         TEXT,
    data_schema     TEXT,
    content_type    TEXT        NOT NULL,
    extensions      JSONB       NOT NULL DEFAULT '{{}}',
    payload         BYTEA       NOT NULL,
    correlation_id  TEXT,
    causation_id    TEXT,
    traceparent     TEXT,
    status          TEXT        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'leased', 'published', 'dead')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_owner     TEXT,
    lease_until     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at    TIMESTAMPTZ
);

-- Claims read unfinished rows only: the heads of keys, and the rows behind them.
CREATE INDEX IF NOT EXISTS {outbox_unfinished_by_key}
    ON {outbox} (partition_key, sequence) WHERE status IN ('pending', 'leased');
CREATE INDEX IF NOT EXISTS {outbox_unfinished}
    ON {outbox} (sequence) WHERE status IN ('pending', 'leased');
CREATE INDEX IF NOT EXISTS {outbox_published}
    ON {outbox} (published_at) WHERE status = 'published';
CREATE INDEX IF NOT EXISTS {outbox_dead}
    ON {outbox} (sequence) WHERE status = 'dead';

CREATE TABLE IF NOT EXISTS {inbox} (
    consumer    TEXT        NOT NULL,
    message_id  TEXT        NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

CREATE INDEX IF NOT EXISTS {inbox_received} ON {inbox} (received_at);
