SELECT status, COUNT(*) FROM {outbox} GROUP BY status
