-- A row that may be handed out now, its key's earlier rows aside ($1 is the claim's time):
-- pending and due, or leased with a lease that has run out. tidings_core::claim_policy::admits
-- is the same rule, for adapters that apply it outside the database.
((o.status = 'pending' AND o.next_attempt_at <= $1)
 OR (o.status = 'leased' AND o.lease_until <= $1))
