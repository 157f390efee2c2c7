-- A page of dead letters after sequence $1, at most $2.
SELECT {envelope_columns} FROM {outbox}
WHERE status = 'dead' AND sequence > $1 ORDER BY sequence LIMIT $2
