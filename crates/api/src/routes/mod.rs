//! The routing table of SPEC §6 (paths end with a slash, as in Django).
//! Fixed paths are registered before `{id}` ones so they win.

pub mod auth;
pub mod demo;
pub mod health;
pub mod payments;
pub mod products;

use crate::middleware::metrics;
use crate::middleware::rate_limit::login_limiter;
use actix_web::web::{self, get, post, resource};
use domain::db::DbPool;
use payments as p;

/// Largest webhook body accepted.
pub const WEBHOOK_BODY_LIMIT: usize = 1024 * 1024;

/// Login rate limit: attempts per minute, and whether to trust proxy headers.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimit {
    pub per_minute: u64,
    pub trust_forwarded_for: bool,
}

pub fn configure(cfg: &mut web::ServiceConfig, pool: DbPool, limit: LoginLimit) {
    // Resources, not bare routes: another method on them is a 405.
    cfg.service(resource("/healthz").route(get().to(health::healthz)))
        .service(resource("/readyz").route(get().to(health::readyz)))
        .service(resource("/metrics").route(get().to(metrics::render)))
        .service(resource("/api/auth/csrf/").route(get().to(auth::csrf::get_csrf)))
        .service(
            resource("/api/auth/login/")
                .wrap(login_limiter(
                    pool,
                    limit.per_minute,
                    limit.trust_forwarded_for,
                ))
                .route(post().to(auth::login::login)),
        )
        .service(resource("/api/auth/logout/").route(post().to(auth::logout::logout)))
        .service(resource("/api/auth/me/").route(get().to(auth::me::me)))
        .service(resource("/api/products/").route(get().to(products::list_products)))
        .service(resource("/api/payments/").route(get().to(p::list::list_payments)))
        .service(resource("/api/payments/checkout/").route(post().to(p::checkout::post_checkout)))
        .service(
            resource("/api/payments/check_expired_sessions/")
                .route(post().to(p::check_expired::post_check_expired_sessions)),
        )
        .service(
            resource("/api/payments/task_status/").route(get().to(p::task_status::get_task_status)),
        )
        .service(
            resource("/api/payments/test_cancellation/")
                .route(get().to(p::test_cancellation::get_test_cancellation)),
        )
        .service(
            resource("/api/payments/payment_stats/").route(get().to(p::stats::get_payment_stats)),
        )
        .service(
            resource("/api/payments/payment_stats_public/")
                .route(get().to(p::stats::get_payment_stats_public)),
        )
        .service(
            resource("/api/payments/webhook/")
                // Stripe events can be larger than the JSON limit of user requests.
                .app_data(web::PayloadConfig::new(WEBHOOK_BODY_LIMIT))
                .route(post().to(p::webhook::post_webhook)),
        )
        .service(resource("/api/payments/{id}/").route(get().to(p::list::get_payment)))
        .service(resource("/api/payments/{id}/cancel/").route(post().to(p::cancel::post_cancel)))
        .service(resource("/api/payments/{id}/status/").route(get().to(p::status::get_status)))
        .service(
            resource("/api/payments/{id}/sync_status/")
                .route(post().to(p::sync_status::post_sync_status)),
        )
        .service(
            resource("/api/payments/{id}/debug_cancel/")
                .route(post().to(p::debug_cancel::post_debug_cancel)),
        )
        .service(
            resource("/api/payments/{id}/timeline/").route(get().to(p::timeline::get_timeline)),
        );
}
