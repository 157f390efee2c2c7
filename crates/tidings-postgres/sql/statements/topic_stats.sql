-- Rows per topic and status, with the earliest staging and the latest publication of each group.
SELECT topic, status, COUNT(*) AS count, MIN(created_at) AS first_created,
    MAX(published_at) AS last_published
FROM {outbox} GROUP BY topic, status
