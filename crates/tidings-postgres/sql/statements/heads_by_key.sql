-- The heads the key walk found that may go now.
SELECT o.partition_key FROM {outbox} o
WHERE o.sequence IN (SELECT sequence FROM candidates) AND {claimable}
ORDER BY o.sequence LIMIT $5
FOR UPDATE OF o SKIP LOCKED
