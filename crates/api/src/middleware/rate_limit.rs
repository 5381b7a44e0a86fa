//! The login rate limit: actix-extensible-rate-limit with a PostgreSQL
//! backend, so every API replica counts against the same window.

use crate::error::ApiError;
use actix_extensible_rate_limit::RateLimiter;
use actix_extensible_rate_limit::backend::{
    Backend, Decision, SimpleInput, SimpleInputFunctionBuilder, SimpleOutput,
};
use actix_web::HttpResponse;
use actix_web::dev::ServiceRequest;
use actix_web::rt::time::Instant;
use domain::db::DbPool;
use domain::i18n::Lang;
use domain::models::rate_limit;
use std::future::Future;
use std::time::Duration;
use time::OffsetDateTime;

#[derive(Clone)]
pub struct PgBackend {
    pool: DbPool,
}

impl PgBackend {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

/// The counters live in PostgreSQL: if it is down, so is login (503).
fn unavailable(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(target: "payments", error = %e, "login rate limit store unavailable");
    ApiError::new(
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        crate::messages::DATABASE_UNAVAILABLE,
        Lang::Es,
    )
}

impl Backend<SimpleInput> for PgBackend {
    type Output = SimpleOutput;
    type RollbackToken = String;
    type Error = ApiError;

    async fn request(
        &self,
        input: SimpleInput,
    ) -> Result<(Decision, Self::Output, Self::RollbackToken), Self::Error> {
        let mut conn = self.pool.get().await.map_err(unavailable)?;
        let window = rate_limit::hit(&mut conn, &input.key, input.interval)
            .await
            .map_err(unavailable)?;
        let hits = u64::try_from(window.hits).unwrap_or(u64::MAX);
        let elapsed = OffsetDateTime::now_utc() - window.window_start;
        let left = input
            .interval
            .saturating_sub(Duration::try_from(elapsed).unwrap_or_default());
        let output = SimpleOutput {
            limit: input.max_requests,
            remaining: input.max_requests.saturating_sub(hits),
            reset: Instant::now() + left,
        };
        Ok((
            Decision::from_allowed(hits <= input.max_requests),
            output,
            input.key,
        ))
    }

    fn rollback(&self, key: String) -> impl Future<Output = Result<(), Self::Error>> {
        let pool = self.pool.clone();
        async move {
            let mut conn = pool.get().await.map_err(unavailable)?;
            rate_limit::undo_hit(&mut conn, &key)
                .await
                .map_err(unavailable)
        }
    }
}

/// At most `per_minute` login attempts per client address and minute.
pub fn login_limiter(
    pool: DbPool,
    per_minute: u64,
    trust_forwarded_for: bool,
) -> RateLimiter<
    PgBackend,
    SimpleOutput,
    impl Fn(&ServiceRequest) -> actix_extensible_rate_limit::backend::SimpleInputFuture + 'static,
> {
    let input =
        SimpleInputFunctionBuilder::new(Duration::from_secs(60), per_minute).custom_key("login");
    let input = if trust_forwarded_for {
        input.real_ip_key()
    } else {
        input.peer_ip_key()
    }
    .build();
    RateLimiter::builder(PgBackend::new(pool), input)
        .add_headers()
        // The body is filled in, in the caller's language, by `json_errors`.
        .request_denied_response(|output: &SimpleOutput| {
            let wait = output
                .reset
                .saturating_duration_since(Instant::now())
                .as_secs()
                .max(1);
            HttpResponse::TooManyRequests()
                .insert_header(("Retry-After", wait.to_string()))
                .finish()
        })
        .build()
}
