-- Every call made to Stripe, for the staff timeline and for audits of
-- what the service did on a customer's behalf (append-only; pruned by age).
CREATE TABLE stripe_calls (
    id              BIGSERIAL PRIMARY KEY,
    payment_id      UUID,
    operation       TEXT NOT NULL,
    object_id       TEXT,
    idempotency_key TEXT,
    outcome         TEXT NOT NULL,
    error           TEXT,
    duration_ms     INTEGER NOT NULL CHECK (duration_ms >= 0),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX stripe_calls_payment_idx ON stripe_calls (payment_id, id) WHERE payment_id IS NOT NULL;
CREATE INDEX stripe_calls_object_idx ON stripe_calls (object_id, id) WHERE object_id IS NOT NULL;
CREATE INDEX stripe_calls_created_idx ON stripe_calls (created_at);
