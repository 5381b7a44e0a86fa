-- Background work that must outlive Redis: task status for `task_status`,
-- and every sweep run with its per-payment outcomes (the sweep's heartbeat).

-- One row per enqueued job, keyed by the apalis task id. The API writes it
-- before pushing; the worker moves it through Celery's state names.
CREATE TABLE task_records (
    id           TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    job_name     TEXT NOT NULL,
    requested_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    payment_id   UUID,
    status       TEXT NOT NULL DEFAULT 'PENDING'
                 CHECK (status IN ('PENDING', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE')),
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    result       JSONB,
    error        TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at  TIMESTAMPTZ
);
CREATE INDEX task_records_created_idx ON task_records (created_at);
CREATE INDEX task_records_payment_idx ON task_records (payment_id) WHERE payment_id IS NOT NULL;

CREATE TABLE sweep_runs (
    id                UUID PRIMARY KEY,
    trigger           TEXT NOT NULL CHECK (trigger IN ('chain', 'oneoff', 'cli')),
    task_id           TEXT,
    force             BOOLEAN NOT NULL DEFAULT FALSE,
    started_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at       TIMESTAMPTZ,
    outcome           TEXT NOT NULL DEFAULT 'running'
                      CHECK (outcome IN ('running', 'idle', 'fixed', 'error')),
    found             INTEGER NOT NULL DEFAULT 0,
    cancelled         INTEGER NOT NULL DEFAULT 0,
    completed         INTEGER NOT NULL DEFAULT 0,
    still_open        INTEGER NOT NULL DEFAULT 0,
    expired_in_stripe INTEGER NOT NULL DEFAULT 0,
    expiries_retried  INTEGER NOT NULL DEFAULT 0,
    events_processed  INTEGER NOT NULL DEFAULT 0,
    errors            INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    next_run_at       TIMESTAMPTZ
);
CREATE INDEX sweep_runs_trigger_started_idx ON sweep_runs (trigger, started_at DESC);

CREATE TABLE sweep_outcomes (
    id         BIGSERIAL PRIMARY KEY,
    run_id     UUID NOT NULL REFERENCES sweep_runs (id) ON DELETE CASCADE,
    payment_id UUID,
    event_id   TEXT,
    action     TEXT NOT NULL,
    detail     JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sweep_outcomes_run_idx ON sweep_outcomes (run_id);
CREATE INDEX sweep_outcomes_payment_idx ON sweep_outcomes (payment_id) WHERE payment_id IS NOT NULL;
