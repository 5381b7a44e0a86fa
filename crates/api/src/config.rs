//! Typed configuration, read once at start from the environment (SPEC §3).
//! A bad value fails start-up with a message naming the variable; secrets
//! are kept in [`SecretString`] and never printed.

use domain::settings::{
    Env, at_least, boolean, checkout_session_ttl, database_url, http_url, invalid, parsed,
    redis_url, secs,
};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

pub use domain::settings::{
    AppEnv, ConfigError, EMULATOR_API_BASE, LogFilter, LogFormat, ProcessEnv,
};

/// Where Stripe is reached.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub api_base: String,
    pub secret_key: SecretString,
    /// No key was configured: the local emulator is used (development only).
    pub uses_emulator: bool,
    pub webhook_secret: SecretString,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: SecretString,
    /// Database connections of the whole process, shared out evenly
    /// among the server threads (each has its own pool).
    pub database_pool_size: u32,
    /// Server threads, each with its own connections (see [`AppState`]).
    ///
    /// [`AppState`]: crate::state::AppState
    pub workers: NonZeroUsize,
    pub redis_url: SecretString,
    /// Prefix of the Redis queue keys; must match the worker's.
    pub queue_prefix: String,
    pub stripe: StripeSettings,
    pub api_bind: SocketAddr,
    pub app_env: AppEnv,
    pub cookie_secure: bool,
    pub allowed_origins: Vec<String>,
    pub frontend_url: String,
    pub checkout_session_ttl: Duration,
    pub session_ttl: Duration,
    /// Login attempts allowed per client address and minute.
    pub login_rate_per_minute: u64,
    /// Take the client address from `Forwarded`/`X-Forwarded-For` (only
    /// behind a proxy that sets them; otherwise clients could spoof it).
    pub trust_forwarded_for: bool,
    pub json_body_limit: usize,
    pub log_format: LogFormat,
    /// `RUST_LOG`.
    pub log_filter: LogFilter,
}

/// One server thread per CPU, as actix-web does by default.
fn default_workers() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// The emulator's default webhook secret.
pub const EMULATOR_WEBHOOK_SECRET: &str = "whsec_emulator";

fn stripe(env: &dyn Env, app_env: AppEnv) -> Result<StripeSettings, ConfigError> {
    let endpoint =
        domain::settings::stripe_endpoint(env, app_env, stripe_client::config::STRIPE_API_BASE)?;
    let webhook_secret = env.get("STRIPE_WEBHOOK_SECRET");
    if webhook_secret.is_none() && app_env == AppEnv::Production {
        return Err(ConfigError::RequiredInProduction("STRIPE_WEBHOOK_SECRET"));
    }
    // Stripe's signing secrets (dashboard endpoints and `stripe listen`)
    // all start whsec_; anything else would refuse every real event.
    if webhook_secret
        .as_deref()
        .is_some_and(|secret| !secret.starts_with("whsec_") || secret.len() <= "whsec_".len())
    {
        return Err(invalid(
            "STRIPE_WEBHOOK_SECRET",
            "must be an endpoint's signing secret (whsec_…)",
        ));
    }
    Ok(StripeSettings {
        api_base: endpoint.api_base,
        secret_key: endpoint.secret_key,
        uses_emulator: endpoint.uses_emulator,
        webhook_secret: SecretString::from(
            webhook_secret.unwrap_or_else(|| EMULATOR_WEBHOOK_SECRET.into()),
        ),
    })
}

fn origins(env: &dyn Env) -> Result<Vec<String>, ConfigError> {
    env.get("ALLOWED_ORIGINS")
        .unwrap_or_default()
        .split(',')
        .map(|o| o.trim().trim_end_matches('/'))
        .filter(|o| !o.is_empty())
        .map(origin)
        .collect()
}

/// A browser origin as it arrives in the `Origin` header: scheme, host and
/// port, nothing else — anything more would never match one.
fn origin(raw: &str) -> Result<String, ConfigError> {
    let bad = || {
        invalid(
            "ALLOWED_ORIGINS",
            format!("'{raw}' is not an origin such as https://shop.example.com"),
        )
    };
    let uri: actix_web::http::Uri = raw.parse().map_err(|_| bad())?;
    let web_scheme = matches!(uri.scheme_str(), Some("http" | "https"));
    let bare = uri.path_and_query().is_none_or(|p| p.as_str() == "/");
    if web_scheme && uri.host().is_some() && bare {
        Ok(raw.to_owned())
    } else {
        Err(bad())
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&ProcessEnv)
    }

    pub fn from(env: &dyn Env) -> Result<Self, ConfigError> {
        let app_env: AppEnv = parsed(env, "APP_ENV", AppEnv::Development)?;
        Ok(Self {
            database_url: database_url(env, "postgres://postgres@127.0.0.1:5432/payments")?,
            database_pool_size: at_least(env, "DATABASE_POOL_SIZE", 16, 1)?,
            workers: parsed(env, "API_WORKERS", default_workers())?,
            redis_url: redis_url(env, "redis://127.0.0.1:6379/0")?,
            queue_prefix: env.get("QUEUE_PREFIX").unwrap_or_default(),
            stripe: stripe(env, app_env)?,
            api_bind: parsed(env, "API_BIND", SocketAddr::from(([127, 0, 0, 1], 8000)))?,
            app_env,
            cookie_secure: boolean(env, "COOKIE_SECURE", app_env == AppEnv::Production)?,
            allowed_origins: origins(env)?,
            frontend_url: http_url(env, "FRONTEND_URL", "http://localhost:3000")?,
            checkout_session_ttl: checkout_session_ttl(env)?,
            session_ttl: secs(env, "SESSION_TTL_SECS", 14 * 24 * 3600, 60)?,
            login_rate_per_minute: at_least(env, "LOGIN_RATE_PER_MINUTE", 10, 1)?,
            trust_forwarded_for: boolean(env, "TRUST_FORWARDED_FOR", false)?,
            json_body_limit: at_least(env, "JSON_BODY_LIMIT_BYTES", 64 * 1024, 1)?,
            log_format: parsed(env, "LOG_FORMAT", LogFormat::Text)?,
            log_filter: parsed(env, "RUST_LOG", LogFilter::default())?,
        })
    }

    pub fn is_development(&self) -> bool {
        self.app_env == AppEnv::Development
    }

    /// Each server thread's share of `DATABASE_POOL_SIZE`, rounded up so
    /// that every thread has at least one connection.
    pub fn pool_size_per_worker(&self) -> u32 {
        let workers = u32::try_from(self.workers.get()).unwrap_or(u32::MAX);
        self.database_pool_size.div_ceil(workers).max(1)
    }

    /// Each server thread's connections for `Idempotency-Key` claims: half
    /// its share of the pool, at least one. A keyed request beyond them
    /// waits for a claim (or its 503), never for a connection it holds.
    pub fn claims_pool_size_per_worker(&self) -> u32 {
        self.pool_size_per_worker().div_ceil(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from(&vars)
    }

    #[test]
    fn development_defaults_use_the_emulator() {
        let s = settings(&[]).unwrap();
        assert!(s.stripe.uses_emulator);
        assert_eq!(s.stripe.api_base, EMULATOR_API_BASE);
        assert!(!s.cookie_secure);
    }

    #[test]
    fn production_needs_both_stripe_secrets_and_secures_cookies() {
        let err = settings(&[
            ("APP_ENV", "production"),
            ("STRIPE_SECRET_KEY", "sk_live_x"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().starts_with("STRIPE_WEBHOOK_SECRET:"),
            "{err}"
        );
        let s = settings(&[
            ("APP_ENV", "production"),
            ("STRIPE_SECRET_KEY", "sk_live_x"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
        ])
        .unwrap();
        assert!(s.cookie_secure);
    }

    #[test]
    fn the_pool_is_shared_out_among_the_server_threads() {
        let s = settings(&[("API_WORKERS", "3"), ("DATABASE_POOL_SIZE", "16")]).unwrap();
        assert_eq!(s.pool_size_per_worker(), 6);
        let s = settings(&[("API_WORKERS", "4"), ("DATABASE_POOL_SIZE", "2")]).unwrap();
        assert_eq!(s.pool_size_per_worker(), 1);
        let err = settings(&[("API_WORKERS", "0")]).unwrap_err();
        assert!(err.to_string().starts_with("API_WORKERS:"), "{err}");
    }

    #[test]
    fn errors_name_the_variable() {
        let err = settings(&[("CHECKOUT_SESSION_TTL_SECS", "10")]).unwrap_err();
        assert!(
            err.to_string().starts_with("CHECKOUT_SESSION_TTL_SECS:"),
            "{err}"
        );
        let err = settings(&[("RUST_LOG", "payments=notalevel")]).unwrap_err();
        assert!(err.to_string().starts_with("RUST_LOG:"), "{err}");
        for origins in [
            "not a url",
            "https://shop.test,ftp://x",
            "https://shop.test/path",
        ] {
            let err = settings(&[("ALLOWED_ORIGINS", origins)]).unwrap_err();
            assert!(err.to_string().starts_with("ALLOWED_ORIGINS:"), "{err}");
        }
    }

    #[test]
    fn values_that_would_break_every_request_are_refused_at_start() {
        for (var, value) in [
            ("DATABASE_POOL_SIZE", "0"),
            ("LOGIN_RATE_PER_MINUTE", "0"),
            ("JSON_BODY_LIMIT_BYTES", "0"),
            ("SESSION_TTL_SECS", "0"),
            ("STRIPE_SECRET_KEY", "pk_test_123"),
            ("STRIPE_WEBHOOK_SECRET", "abc"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_"),
        ] {
            let err = settings(&[(var, value)]).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{var}:")), "{var}={value}: {err}");
            if value.len() > "whsec_".len() {
                assert!(!err.contains(value), "the value is not echoed: {err}");
            }
        }
        settings(&[
            ("STRIPE_SECRET_KEY", "rk_live_x"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
        ])
        .expect("a restricted key and a signing secret");
    }
}
