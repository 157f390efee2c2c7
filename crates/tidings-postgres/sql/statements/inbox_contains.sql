-- Whether a committed claim of the message exists.
SELECT 1 FROM {inbox} WHERE consumer = $1 AND message_id = $2
