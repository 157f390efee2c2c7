-- One round trip: the rows and the wake-up, which PostgreSQL delivers only if (and when) the
-- transaction commits. $1..$14 are the envelopes' columns as arrays, $15 the channel.
WITH staged AS (INSERT INTO {outbox} (id, {envelope_fields})
    SELECT * FROM UNNEST({envelope_arrays}) RETURNING 1)
SELECT (SELECT count(*) FROM staged), pg_notify($15, '')
