//! Building and running the server (zero2prod's `Application`): bind,
//! expose the port (tests bind port 0), run until stopped. actix-web stops
//! gracefully on SIGTERM/SIGINT, letting requests in flight finish.

use crate::config::Settings;
use crate::error::ApiError;
use crate::middleware::content_language::content_language;
use crate::middleware::cors::{cors, credentials_only_for_allowed_origins};
use crate::middleware::head::head_as_get;
use crate::middleware::request_span::{RequestSpan, request_id_header};
use crate::middleware::{json_errors::json_errors, metrics};
use crate::state::AppState;
use crate::{openapi, routes};
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use domain::db::{self, DbPool};
use secrecy::ExposeSecret;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use stripe_client::{StripeClient, StripeConfig};
use tracing_actix_web::TracingLogger;

pub struct Application {
    port: u16,
    server: Server,
}

/// The Stripe client the settings ask for (the emulator in development
/// when no key is set — said loudly).
pub fn stripe_client(settings: &Settings) -> anyhow::Result<StripeClient> {
    if settings.stripe.uses_emulator {
        tracing::warn!(target: "payments", api_base = %settings.stripe.api_base,
            "STRIPE_SECRET_KEY is not set: using the local Stripe EMULATOR, not Stripe");
    }
    let config = StripeConfig::interactive(
        settings.stripe.api_base.clone(),
        settings.stripe.secret_key.clone(),
    );
    StripeClient::new(&config).context("STRIPE_API_BASE / STRIPE_SECRET_KEY")
}

/// The clean-up's own connection, opened every ten minutes and closed by
/// the pool when idle.
fn janitor_pool(settings: &Settings) -> DbPool {
    db::pool(
        settings.database_url.expose_secret(),
        1,
        Duration::from_secs(30),
    )
}

impl Application {
    /// Binds `API_BIND`; PostgreSQL, Redis and Stripe are reached as
    /// configured, on first use.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        let stripe = stripe_client(&settings)?;
        let listener = TcpListener::bind(settings.api_bind)
            .with_context(|| format!("API_BIND: cannot bind {}", settings.api_bind))?;
        Self::from_parts(settings, &stripe, listener)
    }

    /// Builds on given parts (tests pass their Stripe client, whose
    /// settings every server thread copies).
    pub fn from_parts(
        settings: Settings,
        stripe: &StripeClient,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let port = listener.local_addr()?.port();
        metrics::handle();
        crate::janitor::spawn(janitor_pool(&settings));
        let workers = settings.workers.get();
        let settings = Arc::new(settings);
        let stripe = stripe.clone();
        let server = HttpServer::new(move || {
            let state = AppState::for_this_thread(&settings, &stripe);
            let settings = &state.settings;
            let pool = state.pool.clone();
            let limit = routes::LoginLimit {
                per_minute: settings.login_rate_per_minute,
                trust_forwarded_for: settings.trust_forwarded_for,
            };
            App::new()
                .wrap(cors(&settings.allowed_origins))
                .wrap(from_fn(credentials_only_for_allowed_origins))
                // Outside CORS, so that its refusals are JSON errors too.
                .wrap(from_fn(json_errors))
                .wrap(from_fn(content_language))
                .wrap(from_fn(metrics::record))
                .wrap(from_fn(head_as_get))
                .wrap(from_fn(request_id_header))
                .wrap(TracingLogger::<RequestSpan>::new())
                .app_data(web::Data::new(state.clone()))
                .app_data(web::PayloadConfig::new(settings.json_body_limit))
                // A query string serde cannot read (a repeated or mistyped
                // parameter) is named as such, not left to `json_errors`.
                .app_data(web::QueryConfig::default().error_handler(|error, req| {
                    let lang = crate::lang::request_lang(req);
                    ApiError::detail(
                        actix_web::http::StatusCode::BAD_REQUEST,
                        format!("{}: {error}", crate::messages::INVALID_QUERY.get(lang)),
                    )
                    .into()
                }))
                .app_data(
                    web::JsonConfig::default()
                        .limit(settings.json_body_limit)
                        .error_handler(|error, req| {
                            ApiError::from_json(&error, crate::lang::request_lang(req)).into()
                        }),
                )
                .configure(|cfg| routes::configure(cfg, pool, limit))
                .configure(|cfg| {
                    // The demo page (docs/demo.md) exists only in development.
                    if settings.is_development() {
                        routes::demo::configure(cfg);
                    }
                })
                .configure(openapi::configure)
        })
        .workers(workers)
        .shutdown_timeout(30)
        .listen(listener)?
        .run();
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
