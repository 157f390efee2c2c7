-- Settling with published rows deleted (PublishedRows::Delete): the published rows go in one
-- DELETE, the other outcomes as in settle.sql. Both need the same conditions as there; the
-- result is the number of rows settled. $1 (the time of settling) is not needed: no
-- published_at is kept.
WITH {async_commit},
s AS MATERIALIZED (SELECT * FROM UNNEST($3::bigint[], $4::text[], $5::text[], $6::text[],
    $7::timestamptz[]) AS s(sequence, id, outcome, error, at)),
published AS (
    DELETE FROM {outbox} o USING s, settings
    WHERE s.outcome = 'published' AND o.sequence = s.sequence AND o.id = s.id
      AND o.status IN ('pending', 'leased') AND $1::timestamptz IS NOT NULL
    RETURNING 1),
others AS (
    UPDATE {outbox} o SET
        status = CASE s.outcome WHEN 'dead' THEN 'dead' ELSE 'pending' END,
        attempts = o.attempts + CASE WHEN s.outcome IN ('retry', 'dead') THEN 1 ELSE 0 END,
        last_error = CASE WHEN s.outcome IN ('retry', 'dead') THEN s.error ELSE o.last_error END,
        next_attempt_at = CASE WHEN s.outcome = 'retry' THEN s.at ELSE o.next_attempt_at END,
        lease_owner = NULL, lease_until = NULL
    FROM s, settings
    WHERE s.outcome <> 'published' AND o.sequence = s.sequence AND o.id = s.id
      AND o.status = 'leased' AND o.lease_owner = $2
    RETURNING 1)
SELECT (SELECT count(*) FROM published) + (SELECT count(*) FROM others)
