-- Makes the statement's own transaction commit without waiting for the WAL flush. The relay's
-- bookkeeping (leases, outcomes) runs with it: a server crash may forget a lease or a
-- "published" mark, which only means the row is sent again (at least once still holds), and
-- relays do not wait for a disk flush per batch. Staging and the inbox always commit
-- synchronously. A function rather than SET LOCAL, so a claim stays one round trip.
settings AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))
