-- The inbox claim: nothing is inserted when the message was claimed before.
INSERT INTO {inbox} (consumer, message_id, received_at) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING
