DROP TABLE IF EXISTS idempotency_keys, reservation_releases, audit_log, stripe_events,
    payments, order_items, orders, carts, coupons, inventory_stock, products,
    api_tokens, sessions, users CASCADE;
DROP FUNCTION IF EXISTS payments_check_transition, orders_check_transition, refuse_change;
