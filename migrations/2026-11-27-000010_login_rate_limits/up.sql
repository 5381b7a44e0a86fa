-- Fixed-window counters for rate limits (login attempts per client),
-- shared by every API replica through PostgreSQL rather than process memory.
CREATE TABLE rate_limit_buckets (
    -- What is limited and for whom, e.g. `login:203.0.113.7`.
    key          TEXT PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 255),
    -- Start of the current window; the count restarts when it has passed.
    window_start TIMESTAMPTZ NOT NULL DEFAULT now(),
    hits         INTEGER NOT NULL DEFAULT 1 CHECK (hits >= 0)
);
CREATE INDEX rate_limit_buckets_window_idx ON rate_limit_buckets (window_start);
