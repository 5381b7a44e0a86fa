-- Stored events whose session the service does not know (yet) wait for
-- it: counted apart from errors, so that events of another integration on
-- the same Stripe account do not keep every sweep in "error".
ALTER TABLE sweep_runs ADD COLUMN events_waiting INTEGER NOT NULL DEFAULT 0;

-- The sweep retries the least-tried unprocessed events first, so events
-- that keep waiting cannot crowd newer ones out of its batch.
DROP INDEX stripe_events_unprocessed_idx;
CREATE INDEX stripe_events_unprocessed_idx ON stripe_events (attempts, received_at)
    WHERE processed_at IS NULL;
