-- At most $2 claims older than $1, skipping rows another purge holds.
DELETE FROM {inbox} WHERE (consumer, message_id) IN
    (SELECT consumer, message_id FROM {inbox} WHERE received_at < $1
     LIMIT $2 FOR UPDATE SKIP LOCKED)
