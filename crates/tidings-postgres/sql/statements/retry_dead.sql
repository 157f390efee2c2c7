-- Dead letters $2 made pending again at $1, their attempts reset.
UPDATE {outbox} SET status = 'pending', attempts = 0, next_attempt_at = $1
WHERE id = ANY($2) AND status = 'dead'
