-- One claim, one statement and one round trip: lock heads of keys that no other relay holds
-- ({heads}, with {prelude} CTEs before it), read each key's run through the (key, sequence)
-- index, keep every run up to its first row that may not go now, and lease the first $2 of
-- those in sequence order. $1 is the claim's time, $3 the owner, $4 the lease's end, $5 the
-- most keys to take.
WITH {prelude}{async_commit},
heads AS ({heads}),
runs AS (
    SELECT r.sequence,
        bool_and(r.claimable) OVER (PARTITION BY r.partition_key ORDER BY r.sequence)
            AS admitted
    FROM heads CROSS JOIN LATERAL (
        SELECT o.sequence, o.partition_key, {claimable} AS claimable FROM {outbox} o
        WHERE o.partition_key = heads.partition_key
          AND o.status IN ('pending', 'leased')
        ORDER BY o.sequence
        LIMIT (SELECT ($2 + count(*) - 1) / count(*) FROM heads)) r),
chosen AS (
    SELECT runs.sequence FROM runs CROSS JOIN settings WHERE runs.admitted
    ORDER BY runs.sequence LIMIT $2)
UPDATE {outbox} o SET status = 'leased', lease_owner = $3, lease_until = $4
FROM chosen WHERE o.sequence = chosen.sequence
RETURNING {returned}
