-- When a job was handed to the queue for the event. NULL while none was:
-- Redis was down when the webhook arrived, so a redelivery of the event
-- enqueues it then instead of waiting for the sweep. Claimed with a
-- conditional UPDATE, so concurrent deliveries enqueue one job.
ALTER TABLE stripe_events ADD COLUMN enqueued_at TIMESTAMPTZ;
