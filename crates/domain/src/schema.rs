//! Diesel schema of `migrations/` (kept by hand in the shape
//! `diesel print-schema` produces).

diesel::table! {
    users (id) {
        id -> Int8,
        email -> Text,
        password_hash -> Text,
        is_staff -> Bool,
        is_active -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    sessions (key_hash) {
        key_hash -> Text,
        user_id -> Int8,
        csrf_token -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    api_tokens (key_hash) {
        key_hash -> Text,
        user_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    products (id) {
        id -> Int8,
        sku -> Text,
        name -> Text,
        price_minor -> Int8,
        currency -> Bpchar,
        is_active -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    inventory_stock (product_id) {
        product_id -> Int8,
        units -> Int4,
        units_sold -> Int4,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    coupons (id) {
        id -> Int8,
        code -> Text,
        percent_off -> Int2,
        max_uses -> Nullable<Int4>,
        times_used -> Int4,
        is_active -> Bool,
        valid_until -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    carts (user_id) {
        user_id -> Int8,
        coupon_id -> Nullable<Int8>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    orders (id) {
        id -> Uuid,
        user_id -> Int8,
        status -> Text,
        coupon_id -> Nullable<Int8>,
        subtotal_minor -> Int8,
        discount_minor -> Int8,
        total_minor -> Int8,
        currency -> Bpchar,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    order_items (order_id, product_id) {
        order_id -> Uuid,
        product_id -> Int8,
        quantity -> Int4,
        unit_price_minor -> Int8,
    }
}

diesel::table! {
    payments (id) {
        id -> Uuid,
        user_id -> Int8,
        order_id -> Uuid,
        amount_minor -> Int8,
        currency -> Bpchar,
        status -> Text,
        stripe_session_id -> Nullable<Text>,
        stripe_payment_intent_id -> Nullable<Text>,
        stripe_session_status -> Nullable<Text>,
        stripe_payment_status -> Nullable<Text>,
        stripe_checkout_url -> Nullable<Text>,
        expires_at -> Nullable<Timestamptz>,
        stripe_expire_pending -> Bool,
        error_message -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
        cancelled_at -> Nullable<Timestamptz>,
        refunded_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    stripe_events (id) {
        id -> Text,
        event_type -> Text,
        payload -> Jsonb,
        received_at -> Timestamptz,
        processed_at -> Nullable<Timestamptz>,
        attempts -> Int4,
        processing_error -> Nullable<Text>,
        enqueued_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        entity -> Text,
        entity_id -> Uuid,
        from_status -> Text,
        to_status -> Text,
        source -> Text,
        actor -> Text,
        detail -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    reservation_releases (order_id, resource) {
        order_id -> Uuid,
        resource -> Text,
        quantity -> Int4,
        released_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (user_id, idempotency_key) {
        user_id -> Int8,
        idempotency_key -> Text,
        request_hash -> Text,
        response_status -> Nullable<Int2>,
        response_body -> Nullable<Bytea>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(inventory_stock -> products (product_id));
diesel::joinable!(carts -> users (user_id));
diesel::joinable!(carts -> coupons (coupon_id));
diesel::joinable!(orders -> users (user_id));
diesel::joinable!(orders -> coupons (coupon_id));
diesel::joinable!(order_items -> orders (order_id));
diesel::joinable!(order_items -> products (product_id));
diesel::joinable!(payments -> users (user_id));
diesel::joinable!(payments -> orders (order_id));
diesel::joinable!(reservation_releases -> orders (order_id));
diesel::joinable!(idempotency_keys -> users (user_id));

diesel::table! {
    task_records (id) {
        id -> Text,
        job_name -> Text,
        requested_by -> Nullable<Int8>,
        payment_id -> Nullable<Uuid>,
        status -> Text,
        attempts -> Int4,
        result -> Nullable<Jsonb>,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sweep_runs (id) {
        id -> Uuid,
        trigger -> Text,
        task_id -> Nullable<Text>,
        force -> Bool,
        started_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
        outcome -> Text,
        found -> Int4,
        cancelled -> Int4,
        completed -> Int4,
        still_open -> Int4,
        expired_in_stripe -> Int4,
        expiries_retried -> Int4,
        events_processed -> Int4,
        errors -> Int4,
        error -> Nullable<Text>,
        next_run_at -> Nullable<Timestamptz>,
        events_waiting -> Int4,
    }
}

diesel::table! {
    sweep_outcomes (id) {
        id -> Int8,
        run_id -> Uuid,
        payment_id -> Nullable<Uuid>,
        event_id -> Nullable<Text>,
        action -> Text,
        detail -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(sweep_outcomes -> sweep_runs (run_id));
diesel::joinable!(task_records -> users (requested_by));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    api_tokens,
    products,
    inventory_stock,
    coupons,
    carts,
    orders,
    order_items,
    payments,
    stripe_events,
    audit_log,
    reservation_releases,
    idempotency_keys,
    task_records,
    sweep_runs,
    sweep_outcomes,
);

diesel::table! {
    stripe_calls (id) {
        id -> Int8,
        payment_id -> Nullable<Uuid>,
        operation -> Text,
        object_id -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        outcome -> Text,
        error -> Nullable<Text>,
        duration_ms -> Int4,
        created_at -> Timestamptz,
    }
}
