-- Every outcome in one statement. Publishing needs no lease (the event was sent, whoever holds
-- the row now); giving a row back, retrying or dead-lettering it needs the caller's own live
-- lease ($2). Rows are found by sequence (the primary key), several times cheaper than through
-- the random-id index; the id must match too. $1 is the time of settling.
WITH {async_commit}
UPDATE {outbox} o SET
    status = CASE s.outcome WHEN 'published' THEN 'published'
        WHEN 'dead' THEN 'dead' ELSE 'pending' END,
    published_at = CASE WHEN s.outcome = 'published' THEN $1 ELSE o.published_at END,
    attempts = o.attempts + CASE WHEN s.outcome IN ('retry', 'dead') THEN 1 ELSE 0 END,
    last_error = CASE WHEN s.outcome IN ('retry', 'dead') THEN s.error ELSE o.last_error END,
    next_attempt_at = CASE WHEN s.outcome = 'retry' THEN s.at ELSE o.next_attempt_at END,
    lease_owner = NULL, lease_until = NULL
FROM settings, UNNEST($3::bigint[], $4::text[], $5::text[], $6::text[],
    $7::timestamptz[]) AS s(sequence, id, outcome, error, at)
WHERE o.sequence = s.sequence AND o.id = s.id
  AND ((s.outcome = 'published' AND o.status IN ('pending', 'leased'))
    OR (s.outcome <> 'published' AND o.status = 'leased' AND o.lease_owner = $2))
