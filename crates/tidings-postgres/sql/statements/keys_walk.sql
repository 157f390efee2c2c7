-- Complete path of a claim, when the window holds no claimable head (its keys are leased or
-- waiting for a retry): walk the distinct keys of unfinished rows through the (key, sequence)
-- index, one seek per key rather than one per row, and look at each key's first row.
RECURSIVE keys(k) AS (
    (SELECT partition_key FROM {outbox}
     WHERE status IN ('pending', 'leased') ORDER BY partition_key LIMIT 1)
  UNION ALL
    SELECT (SELECT o.partition_key FROM {outbox} o
            WHERE o.status IN ('pending', 'leased')
              AND o.partition_key > keys.k
            ORDER BY o.partition_key LIMIT 1)
    FROM keys WHERE keys.k IS NOT NULL),
candidates AS (
    SELECT h.sequence FROM keys CROSS JOIN LATERAL (
        SELECT o.sequence FROM {outbox} o
        WHERE o.partition_key = keys.k AND o.status IN ('pending', 'leased')
        ORDER BY o.sequence LIMIT 1) h),
