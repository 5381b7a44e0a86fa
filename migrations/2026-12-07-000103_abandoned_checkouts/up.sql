-- The sweep's second candidate query: open payments whose checkout never
-- stored a Stripe session (the API died, or Stripe did not answer, between
-- the reservation and the session). Few rows, so a small partial index.
CREATE INDEX payments_open_without_session_idx ON payments (created_at)
    WHERE stripe_session_id IS NULL AND status IN ('PENDING', 'FAILED');
