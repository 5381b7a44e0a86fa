//! The login rate limit: actix-extensible-rate-limit with a PostgreSQL
//! backend, so every API replica counts against the same window.

use actix_extensible_rate_limit::RateLimiter;
use actix_extensible_rate_limit::backend::{
    Backend, Decision, SimpleInput, SimpleInputFunctionBuilder, SimpleOutput,
};
use actix_web::HttpResponse;
use actix_web::dev::ServiceRequest;
use actix_web::error::InternalError;
use actix_web::http::StatusCode;
use actix_web::rt::time::Instant;
use domain::db::DbPool;
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

/// The counters live in PostgreSQL: if it is down, so is login (503). The
/// caller's language is not known here: the answer goes out bare and
/// `json_errors` gives it its `detail`.
fn unavailable(e: impl std::fmt::Display) -> InternalError<&'static str> {
    tracing::error!(target: "payments", error = %e, "login rate limit store unavailable");
    InternalError::new("database unavailable", StatusCode::SERVICE_UNAVAILABLE)
}

impl Backend<SimpleInput> for PgBackend {
    type Output = SimpleOutput;
    type RollbackToken = String;
    type Error = InternalError<&'static str>;

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

/// At most `per_minute` failed login attempts per client address and
/// minute. A successful login (or one the server failed) gives its attempt
/// back: the limit slows password guessing, and must not lock out a shop's
/// staff or a test suite signing in many times from one address.
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
        .rollback_condition(Some(|status: StatusCode| {
            status.is_success() || status.is_server_error()
        }))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::middleware::json_errors::json_errors;
    use actix_web::middleware::from_fn;
    use actix_web::{App, test, web};

    #[actix_web::test]
    async fn login_answers_503_in_the_callers_language_when_its_store_is_down() {
        // Nothing listens on port 1: every checkout from this pool fails.
        let pool = domain::db::pool(
            "postgres://postgres@127.0.0.1:1/none",
            1,
            Duration::from_millis(300),
        );
        let app = test::init_service(
            App::new().wrap(from_fn(json_errors)).service(
                web::resource("/login")
                    .wrap(login_limiter(pool, 10, false))
                    .route(web::post().to(HttpResponse::Ok)),
            ),
        )
        .await;
        for (language, detail) in [
            ("en", "The database is unavailable."),
            ("es", "La base de datos no está disponible."),
        ] {
            let request = test::TestRequest::post()
                .uri("/login")
                .peer_addr("127.0.0.1:5000".parse().unwrap())
                .insert_header(("Accept-Language", language))
                .to_request();
            let response = test::call_service(&app, request).await;
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            let body: serde_json::Value = test::read_body_json(response).await;
            assert_eq!(body["detail"], detail, "{language}");
        }
    }
}
