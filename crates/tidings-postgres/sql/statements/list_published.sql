-- A page of the rows published in [$1, $2) after sequence $3, at most $4, in sequence order.
SELECT {envelope_columns} FROM {outbox}
WHERE status = 'published' AND published_at >= $1 AND published_at < $2 AND sequence > $3
ORDER BY sequence LIMIT $4
