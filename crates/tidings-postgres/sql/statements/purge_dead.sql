DELETE FROM {outbox} WHERE id = ANY($1) AND status = 'dead'
