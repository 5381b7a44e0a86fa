DROP INDEX stripe_events_unprocessed_idx;
CREATE INDEX stripe_events_unprocessed_idx ON stripe_events (received_at)
    WHERE processed_at IS NULL;
ALTER TABLE sweep_runs DROP COLUMN events_waiting;
