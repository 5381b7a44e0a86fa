ALTER TABLE stripe_events DROP COLUMN enqueued_at;
