//! Tables added for the API (migration `2026-11-27-000010_login_rate_limits`).
//! Kept apart from the generated `schema.rs`.

diesel::table! {
    rate_limit_buckets (key) {
        key -> Text,
        window_start -> Timestamptz,
        hits -> Int4,
    }
}
