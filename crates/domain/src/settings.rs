//! Reading typed settings from environment variables, the same way in
//! every binary (SPEC §3): an empty variable counts as unset, and a bad
//! value stops start-up with a message that names the variable — never
//! the value when it may hold a secret.

use secrecy::{ExposeSecret, SecretString};
use std::str::FromStr;
use std::time::Duration;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error("{0}: must be set when APP_ENV=production")]
    RequiredInProduction(&'static str),
}

/// Where the value of a variable comes from: the process environment, or
/// a map (tests).
pub trait Env {
    fn get(&self, var: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, var: &str) -> Option<String> {
        std::env::var(var).ok().filter(|v| !v.trim().is_empty())
    }
}

/// Fixed pairs, for tests and examples.
impl Env for &[(&str, &str)] {
    fn get(&self, var: &str) -> Option<String> {
        self.iter()
            .find(|(name, _)| *name == var)
            .map(|(_, value)| (*value).to_owned())
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn get(&self, var: &str) -> Option<String> {
        self(var)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

impl AppEnv {
    /// As `APP_ENV` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AppEnv::Development => "development",
            AppEnv::Production => "production",
        }
    }
}

impl FromStr for AppEnv {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(AppEnv::Development),
            "production" | "prod" => Ok(AppEnv::Production),
            _ => Err("expected development or production".into()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected text or json".into()),
        }
    }
}

/// `RUST_LOG`: tracing filter directives, checked when the configuration
/// is read (a typo such as `payments=dbug` would otherwise be dropped
/// silently, and the operator left without the logs asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter(String);

impl LogFilter {
    pub fn directives(&self) -> &str {
        &self.0
    }
}

impl Default for LogFilter {
    fn default() -> Self {
        LogFilter("info".into())
    }
}

impl FromStr for LogFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        tracing_subscriber::EnvFilter::builder()
            .parse(s)
            .map(|_| LogFilter(s.to_owned()))
            .map_err(|e| e.to_string())
    }
}

pub fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        reason: reason.into(),
    }
}

pub fn parsed<T: FromStr>(env: &dyn Env, var: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env.get(var) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e| invalid(var, format!("'{}' is not valid: {e}", raw.trim()))),
    }
}

pub fn boolean(env: &dyn Env, var: &'static str, default: bool) -> Result<bool, ConfigError> {
    match env.get(var).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(invalid(var, format!("'{v}' is not a boolean (true/false)"))),
    }
}

/// Whole seconds, at least `min`.
pub fn secs(
    env: &dyn Env,
    var: &'static str,
    default: u64,
    min: u64,
) -> Result<Duration, ConfigError> {
    let value: u64 = parsed(env, var, default)?;
    if value < min {
        return Err(invalid(
            var,
            format!("must be at least {min} (got {value})"),
        ));
    }
    Ok(Duration::from_secs(value))
}

/// Milliseconds, more than zero.
pub fn millis(env: &dyn Env, var: &'static str, default: u64) -> Result<Duration, ConfigError> {
    let value: u64 = parsed(env, var, default)?;
    if value == 0 {
        return Err(invalid(var, "must be greater than 0"));
    }
    Ok(Duration::from_millis(value))
}

/// A count of at least one.
pub fn count(env: &dyn Env, var: &'static str, default: usize) -> Result<usize, ConfigError> {
    at_least(env, var, default, 1)
}

/// A number of at least `min` (a pool size, a limit, a number of tries).
pub fn at_least<T>(env: &dyn Env, var: &'static str, default: T, min: T) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + std::fmt::Display,
    T::Err: std::fmt::Display,
{
    let value = parsed(env, var, default)?;
    if value < min {
        return Err(invalid(
            var,
            format!("must be at least {min} (got {value})"),
        ));
    }
    Ok(value)
}

/// An http(s) URL without its trailing slash.
pub fn http_url(env: &dyn Env, var: &'static str, default: &str) -> Result<String, ConfigError> {
    let value = env.get(var).unwrap_or_else(|| default.to_owned());
    if value.starts_with("http://") || value.starts_with("https://") {
        Ok(value.trim_end_matches('/').to_owned())
    } else {
        Err(invalid(var, "must be an http:// or https:// URL"))
    }
}

/// A URL that may carry a password: kept secret, and never echoed.
pub fn secret_url(
    env: &dyn Env,
    var: &'static str,
    default: &str,
    schemes: &[&str],
) -> Result<SecretString, ConfigError> {
    let value = env.get(var).unwrap_or_else(|| default.to_owned());
    if schemes.iter().any(|s| value.starts_with(s)) {
        Ok(SecretString::from(value))
    } else {
        Err(invalid(var, format!("must start with one of {schemes:?}")))
    }
}

/// `DATABASE_URL`: a PostgreSQL URL, kept secret (it may carry a password).
/// Parsed whole at start: a bad port or a missing host is a typo to name,
/// not a database outage to wait out.
pub fn database_url(env: &dyn Env, default: &str) -> Result<SecretString, ConfigError> {
    let url = secret_url(
        env,
        "DATABASE_URL",
        default,
        &["postgres://", "postgresql://"],
    )?;
    let config = tokio_postgres::Config::from_str(url.expose_secret()).map_err(|e| {
        invalid(
            "DATABASE_URL",
            format!("is not a valid connection URL: {e}"),
        )
    })?;
    if config.get_hosts().is_empty() {
        return Err(invalid("DATABASE_URL", "names no host"));
    }
    Ok(url)
}

/// `REDIS_URL`: a Redis URL (TCP, TLS or a Unix socket), kept secret.
/// A TCP URL is parsed whole at start (host, port, database number).
pub fn redis_url(env: &dyn Env, default: &str) -> Result<SecretString, ConfigError> {
    let url = secret_url(
        env,
        "REDIS_URL",
        default,
        &["redis://", "rediss://", "unix://", "redis+unix://"],
    )?;
    redis_tcp_url_problem(url.expose_secret())
        .map_or(Ok(url), |problem| Err(invalid("REDIS_URL", problem)))
}

fn redis_tcp_url_problem(value: &str) -> Option<String> {
    if !value.starts_with("redis://") && !value.starts_with("rediss://") {
        return None;
    }
    let url = match Url::parse(value) {
        Ok(url) => url,
        Err(e) => return Some(format!("is not a valid URL: {e}")),
    };
    if url.host_str().is_none_or(str::is_empty) {
        return Some("names no host".into());
    }
    let database = url.path().trim_start_matches('/');
    (!database.is_empty() && database.parse::<u32>().is_err())
        .then(|| "the database number after the host must be a number".into())
}

/// `url` with its password, in the user-info or a `password` query
/// parameter, replaced by `***`: connection URLs can then be shown.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = Url::parse(url) else {
        return url.to_owned();
    };
    if parsed.password().is_some() {
        // Fails only for URLs that cannot carry a password at all.
        let _ = parsed.set_password(Some("***"));
    }
    let hides_a_password = parsed
        .query_pairs()
        .any(|(key, _)| key.eq_ignore_ascii_case("password"));
    if hides_a_password {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let value = if key.eq_ignore_ascii_case("password") {
                    "***".to_owned()
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// A Checkout Session's lifetime as Stripe accepts it (30 min to 24 h).
pub fn checkout_session_ttl_secs(secs: u64) -> Result<u64, String> {
    if (1800..=86_400).contains(&secs) {
        Ok(secs)
    } else {
        Err(format!("{secs} is outside Stripe's 1800..86400 seconds"))
    }
}

/// `CHECKOUT_SESSION_TTL_SECS` (default 1800), within Stripe's bounds.
pub fn checkout_session_ttl(env: &dyn Env) -> Result<Duration, ConfigError> {
    let secs: u64 = parsed(env, "CHECKOUT_SESSION_TTL_SECS", 1800)?;
    checkout_session_ttl_secs(secs)
        .map(Duration::from_secs)
        .map_err(|reason| invalid("CHECKOUT_SESSION_TTL_SECS", reason))
}

/// The local Stripe emulator a development run falls back to (SPEC §9).
pub const EMULATOR_API_BASE: &str = "http://127.0.0.1:12111";
const EMULATOR_KEY: &str = "sk_test_emulator";

/// Where Stripe is reached and with which key.
#[derive(Debug, Clone)]
pub struct StripeEndpoint {
    pub api_base: String,
    pub secret_key: SecretString,
    /// No key was configured: a development run talks to the emulator.
    pub uses_emulator: bool,
}

/// `STRIPE_SECRET_KEY` and `STRIPE_API_BASE` (default `stripe_base`, the
/// real API); without a key, development uses the emulator and production
/// refuses to start.
pub fn stripe_endpoint(
    env: &dyn Env,
    app_env: AppEnv,
    stripe_base: &str,
) -> Result<StripeEndpoint, ConfigError> {
    let key = env.get("STRIPE_SECRET_KEY");
    if key.is_none() && app_env == AppEnv::Production {
        return Err(ConfigError::RequiredInProduction("STRIPE_SECRET_KEY"));
    }
    // Only secret (sk_) and restricted (rk_) keys call Stripe's API; a
    // publishable key (pk_) would fail every call, found only at the first
    // cancel. The key itself is never echoed.
    if key
        .as_deref()
        .is_some_and(|k| !(k.starts_with("sk_") || k.starts_with("rk_")))
    {
        return Err(invalid(
            "STRIPE_SECRET_KEY",
            "must be a secret key (sk_…) or a restricted key (rk_…), not a publishable key or other value",
        ));
    }
    let uses_emulator = key.is_none();
    let default_base = if uses_emulator {
        EMULATOR_API_BASE
    } else {
        stripe_base
    };
    Ok(StripeEndpoint {
        api_base: http_url(env, "STRIPE_API_BASE", default_base)?,
        secret_key: SecretString::from(key.unwrap_or_else(|| EMULATOR_KEY.to_owned())),
        uses_emulator,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> &'a [(&'a str, &'a str)] {
        vars
    }

    #[test]
    fn app_env_and_log_format_parse_strictly() {
        assert_eq!("production".parse::<AppEnv>(), Ok(AppEnv::Production));
        assert_eq!("dev".parse::<AppEnv>(), Ok(AppEnv::Development));
        assert!("staging".parse::<AppEnv>().is_err());
        assert_eq!("JSON".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert!("xml".parse::<LogFormat>().is_err());
    }

    #[test]
    fn errors_name_the_variable_and_not_a_secret_value() {
        let e = parsed::<u32>(&env(&[("POOL", "many")]), "POOL", 1).unwrap_err();
        assert!(e.to_string().starts_with("POOL: "), "{e}");
        let e = secret_url(
            &env(&[("DATABASE_URL", "mysql://u:hunter2@db")]),
            "DATABASE_URL",
            "postgres://x",
            &["postgres://"],
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("DATABASE_URL: "), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn bounds_are_enforced() {
        assert!(secs(&env(&[("T", "5")]), "T", 10, 10).is_err());
        assert!(millis(&env(&[("T", "0")]), "T", 10).is_err());
        assert!(count(&env(&[("N", "0")]), "N", 1).is_err());
        assert!(boolean(&env(&[("B", "maybe")]), "B", true).is_err());
        assert!(http_url(&env(&[("U", "ftp://x")]), "U", "http://y").is_err());
    }

    #[test]
    fn without_a_stripe_key_development_uses_the_emulator_and_production_refuses() {
        const REAL: &str = "https://api.stripe.com";
        let dev = stripe_endpoint(&env(&[]), AppEnv::Development, REAL).unwrap();
        assert!(dev.uses_emulator);
        assert_eq!(dev.api_base, EMULATOR_API_BASE);
        let err = stripe_endpoint(&env(&[]), AppEnv::Production, REAL).unwrap_err();
        assert!(err.to_string().starts_with("STRIPE_SECRET_KEY:"), "{err}");
        let live = stripe_endpoint(
            &env(&[("STRIPE_SECRET_KEY", "sk_live_x")]),
            AppEnv::Production,
            REAL,
        )
        .unwrap();
        assert!(!live.uses_emulator);
        assert_eq!(live.api_base, REAL);
    }
    #[test]
    fn a_database_url_that_does_not_parse_is_refused_naming_the_variable() {
        for bad in ["postgres://postgres:hunter2@127.0.0.1:abc/x", "postgres://"] {
            let e = database_url(&env(&[("DATABASE_URL", bad)]), "postgres://db/x").unwrap_err();
            let text = e.to_string();
            assert!(text.starts_with("DATABASE_URL: "), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
        assert!(database_url(&env(&[]), "postgres://postgres@127.0.0.1:5432/payments").is_ok());
    }

    #[test]
    fn a_redis_url_that_does_not_parse_is_refused_naming_the_variable() {
        for bad in [
            "redis://127.0.0.1:6379/abc",
            "redis://127.0.0.1:port",
            "redis://",
        ] {
            let e = redis_url(&env(&[("REDIS_URL", bad)]), "redis://r").unwrap_err();
            assert!(e.to_string().starts_with("REDIS_URL: "), "{bad}: {e}");
        }
        for good in [
            "redis://127.0.0.1:6379",
            "redis://:pw@127.0.0.1:6379/11",
            "rediss://cache.example.com",
            "unix:///run/redis.sock",
        ] {
            assert!(
                redis_url(&env(&[("REDIS_URL", good)]), "redis://r").is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn redact_url_hides_passwords_in_the_user_info_and_the_query() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/payments?sslmode=disable"),
            "postgres://app:***@db:5432/payments?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1:5432/payments"),
            "postgres://postgres@127.0.0.1:5432/payments"
        );
        assert_eq!(
            redact_url("redis://:pw@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        let query = redact_url("postgres://u@h/db?password=DBLEAKpw&sslmode=require");
        assert!(!query.contains("DBLEAKpw"), "{query}");
        assert!(query.contains("sslmode=require"), "{query}");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
