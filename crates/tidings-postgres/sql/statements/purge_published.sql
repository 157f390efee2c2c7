-- At most $2 published rows older than $1, skipping rows another purge holds.
DELETE FROM {outbox} WHERE sequence IN (SELECT sequence FROM {outbox}
    WHERE status = 'published' AND published_at < $1
    ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED)
