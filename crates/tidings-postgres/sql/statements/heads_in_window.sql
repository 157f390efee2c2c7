-- Fast path of a claim: heads among the earliest $2 rows that are not under a live lease,
-- found in time proportional to the batch however long the backlog.
SELECT o.partition_key FROM {outbox} o
WHERE o.status IN ('pending', 'leased')
  AND o.sequence <= (SELECT max(w.sequence) FROM (SELECT sequence
      FROM {outbox} WHERE status IN ('pending', 'leased')
        AND NOT (status = 'leased' AND lease_until > $1)
      ORDER BY sequence LIMIT $2) w)
  AND {claimable}
  AND NOT EXISTS (SELECT 1 FROM {outbox} e
      WHERE e.partition_key = o.partition_key
        AND e.status IN ('pending', 'leased') AND e.sequence < o.sequence)
ORDER BY o.sequence LIMIT $5
FOR UPDATE OF o SKIP LOCKED
