-- Core data of the payments reliability service (SPEC §4).
-- The database enforces every rule it can: status values, allowed
-- transitions, stock bounds, exactly-once release, append-only audit.

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_staff      BOOLEAN NOT NULL DEFAULT FALSE,
    is_active     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- E-mail login is case-insensitive: one account per address.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- Server-side login sessions; only a SHA-256 of the cookie value is stored.
CREATE TABLE sessions (
    key_hash   TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- API tokens for scripts (`Authorization: Token <key>`); the key is shown
-- once by `manage create_token` and only its SHA-256 is kept.
CREATE TABLE api_tokens (
    key_hash   TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

CREATE TABLE products (
    id           BIGSERIAL PRIMARY KEY,
    sku          TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    price_minor  BIGINT NOT NULL CHECK (price_minor >= 0),
    currency     CHAR(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    is_active    BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- units_sold counts units reserved by pending orders or sold.
CREATE TABLE inventory_stock (
    product_id BIGINT PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
    units      INTEGER NOT NULL CHECK (units >= 0),
    units_sold INTEGER NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT inventory_stock_units_sold_bounds CHECK (units_sold BETWEEN 0 AND units)
);

CREATE TABLE coupons (
    id          BIGSERIAL PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    percent_off SMALLINT NOT NULL CHECK (percent_off BETWEEN 1 AND 100),
    max_uses    INTEGER CHECK (max_uses IS NULL OR max_uses >= 0),
    times_used  INTEGER NOT NULL DEFAULT 0 CHECK (times_used >= 0),
    is_active   BOOLEAN NOT NULL DEFAULT TRUE,
    valid_until TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT coupons_times_used_le_max CHECK (max_uses IS NULL OR times_used <= max_uses)
);

-- The coupon a user has applied in their cart; cleared when an order using
-- a coupon is cancelled so it is not silently re-applied.
CREATE TABLE carts (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    coupon_id  BIGINT REFERENCES coupons (id) ON DELETE SET NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id             UUID PRIMARY KEY,
    user_id        BIGINT NOT NULL REFERENCES users (id),
    status         TEXT NOT NULL DEFAULT 'PENDING'
                   CHECK (status IN ('PENDING', 'COMPLETED', 'CANCELLED', 'SHIPPED', 'DELIVERED')),
    coupon_id      BIGINT REFERENCES coupons (id),
    subtotal_minor BIGINT NOT NULL CHECK (subtotal_minor >= 0),
    discount_minor BIGINT NOT NULL DEFAULT 0 CHECK (discount_minor >= 0),
    total_minor    BIGINT NOT NULL CHECK (total_minor >= 0),
    currency       CHAR(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (total_minor = subtotal_minor - discount_minor)
);
CREATE INDEX orders_user_created_idx ON orders (user_id, created_at DESC);

CREATE TABLE order_items (
    order_id         UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id       BIGINT NOT NULL REFERENCES products (id),
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT NOT NULL CHECK (unit_price_minor >= 0),
    PRIMARY KEY (order_id, product_id)
);
CREATE INDEX order_items_product_idx ON order_items (product_id);

CREATE TABLE payments (
    id                    UUID PRIMARY KEY,
    user_id               BIGINT NOT NULL REFERENCES users (id),
    order_id              UUID NOT NULL UNIQUE REFERENCES orders (id),
    amount_minor          BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency              CHAR(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status                TEXT NOT NULL DEFAULT 'PENDING'
                          CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED', 'CANCELLED', 'REFUNDED')),
    -- Mirror of the Stripe Checkout Session.
    stripe_session_id        TEXT UNIQUE,
    stripe_payment_intent_id TEXT,
    stripe_session_status    TEXT CHECK (stripe_session_status IN ('open', 'complete', 'expired')),
    stripe_payment_status    TEXT,
    stripe_checkout_url      TEXT,
    expires_at               TIMESTAMPTZ,
    -- Cancelled locally while Stripe could not be told; the sweep retries.
    stripe_expire_pending    BOOLEAN NOT NULL DEFAULT FALSE,
    error_message            TEXT,
    created_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at             TIMESTAMPTZ,
    cancelled_at             TIMESTAMPTZ,
    refunded_at              TIMESTAMPTZ
);
CREATE INDEX payments_user_created_idx ON payments (user_id, created_at DESC);
-- The sweep's candidate query: its cost follows the open payments past
-- their expiry, not every pending payment.
CREATE INDEX payments_open_expiry_idx ON payments (expires_at)
    WHERE status IN ('PENDING', 'FAILED');
CREATE INDEX payments_expire_pending_idx ON payments (updated_at)
    WHERE stripe_expire_pending;

-- Every webhook event received, stored before Stripe gets its 2xx.
CREATE TABLE stripe_events (
    id               TEXT PRIMARY KEY,
    event_type       TEXT NOT NULL,
    payload          JSONB NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at     TIMESTAMPTZ,
    attempts         INTEGER NOT NULL DEFAULT 0,
    processing_error TEXT
);
CREATE INDEX stripe_events_unprocessed_idx ON stripe_events (received_at)
    WHERE processed_at IS NULL;

-- Append-only log of every payment and order transition (see triggers below).
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    entity      TEXT NOT NULL CHECK (entity IN ('payment', 'order')),
    entity_id   UUID NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('user', 'webhook', 'sweep', 'cli', 'staff')),
    actor       TEXT NOT NULL DEFAULT '',
    detail      JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id, id);

-- One row per released resource of an order ('stock:<product id>' or
-- 'coupon:<coupon id>'): the primary key makes "released exactly once" a
-- database guarantee rather than a convention.
CREATE TABLE reservation_releases (
    order_id    UUID NOT NULL REFERENCES orders (id),
    resource    TEXT NOT NULL CHECK (resource ~ '^(stock|coupon):[0-9]+$'),
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    released_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, resource)
);

-- Saved responses for `Idempotency-Key` on checkout and cancel.
CREATE TABLE idempotency_keys (
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash    TEXT NOT NULL,
    response_status SMALLINT,
    response_body   BYTEA,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, idempotency_key)
);

-- Refuse any status change the state machine does not allow, whoever writes.
CREATE FUNCTION payments_check_transition() RETURNS trigger AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status = 'PENDING'   AND NEW.status IN ('COMPLETED', 'FAILED', 'CANCELLED')) OR
        (OLD.status = 'FAILED'    AND NEW.status IN ('COMPLETED', 'CANCELLED')) OR
        (OLD.status = 'COMPLETED' AND NEW.status = 'REFUNDED') OR
        (OLD.status = 'CANCELLED' AND NEW.status = 'REFUNDED')
    ) THEN
        RAISE EXCEPTION 'payment % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER payments_transition BEFORE UPDATE OF status ON payments
    FOR EACH ROW EXECUTE FUNCTION payments_check_transition();

CREATE FUNCTION orders_check_transition() RETURNS trigger AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status = 'PENDING'   AND NEW.status IN ('COMPLETED', 'CANCELLED')) OR
        (OLD.status = 'COMPLETED' AND NEW.status = 'SHIPPED') OR
        (OLD.status = 'SHIPPED'   AND NEW.status = 'DELIVERED')
    ) THEN
        RAISE EXCEPTION 'order % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER orders_transition BEFORE UPDATE OF status ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_check_transition();

CREATE FUNCTION refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER reservation_releases_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON reservation_releases
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
