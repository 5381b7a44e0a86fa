//! Typed configuration, read once at start from the environment (SPEC §3).
//! A bad value fails start-up with a message naming the variable; secrets
//! are kept in [`SecretString`] and never printed.

use secrecy::SecretString;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error("{0} must be set when APP_ENV=production")]
    RequiredInProduction(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

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
    pub database_pool_size: u32,
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
}

/// The dev emulator's address (SPEC §9).
pub const EMULATOR_API_BASE: &str = "http://127.0.0.1:12111";
/// The emulator's default webhook secret.
pub const EMULATOR_WEBHOOK_SECRET: &str = "whsec_emulator";

fn var(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parsed<T: FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::Invalid {
                var: name,
                reason: format!("'{raw}' is not valid: {e}"),
            }),
    }
}

fn boolean(name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match var(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(ConfigError::Invalid {
            var: name,
            reason: format!("'{v}' is not a boolean (true/false)"),
        }),
    }
}

fn url(name: &'static str, default: &str) -> Result<String, ConfigError> {
    let value = var(name).unwrap_or_else(|| default.to_owned());
    if value.starts_with("http://") || value.starts_with("https://") {
        Ok(value.trim_end_matches('/').to_owned())
    } else {
        Err(ConfigError::Invalid {
            var: name,
            reason: "must be an http:// or https:// URL".into(),
        })
    }
}

fn secret_url(
    name: &'static str,
    default: &str,
    schemes: &[&str],
) -> Result<SecretString, ConfigError> {
    let value = var(name).unwrap_or_else(|| default.to_owned());
    if schemes.iter().any(|s| value.starts_with(s)) {
        Ok(SecretString::from(value))
    } else {
        // The value may hold a password: name the variable, not the value.
        Err(ConfigError::Invalid {
            var: name,
            reason: format!("must start with one of {schemes:?}"),
        })
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

fn stripe(app_env: AppEnv) -> Result<StripeSettings, ConfigError> {
    let key = var("STRIPE_SECRET_KEY");
    let webhook_secret = var("STRIPE_WEBHOOK_SECRET");
    if app_env == AppEnv::Production {
        if key.is_none() {
            return Err(ConfigError::RequiredInProduction("STRIPE_SECRET_KEY"));
        }
        if webhook_secret.is_none() {
            return Err(ConfigError::RequiredInProduction("STRIPE_WEBHOOK_SECRET"));
        }
    }
    let uses_emulator = key.is_none();
    let default_base = if uses_emulator {
        EMULATOR_API_BASE
    } else {
        stripe_client::config::STRIPE_API_BASE
    };
    Ok(StripeSettings {
        api_base: url("STRIPE_API_BASE", default_base)?,
        secret_key: SecretString::from(key.unwrap_or_else(|| "sk_test_emulator".into())),
        uses_emulator,
        webhook_secret: SecretString::from(
            webhook_secret.unwrap_or_else(|| EMULATOR_WEBHOOK_SECRET.into()),
        ),
    })
}

fn ttl() -> Result<Duration, ConfigError> {
    let secs: u64 = parsed("CHECKOUT_SESSION_TTL_SECS", 1800)?;
    if (1800..=86400).contains(&secs) {
        Ok(Duration::from_secs(secs))
    } else {
        Err(ConfigError::Invalid {
            var: "CHECKOUT_SESSION_TTL_SECS",
            reason: format!("{secs} is outside Stripe's 1800..86400"),
        })
    }
}

fn origins() -> Vec<String> {
    var("ALLOWED_ORIGINS")
        .map(|v| {
            v.split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let app_env: AppEnv = parsed("APP_ENV", AppEnv::Development)?;
        Ok(Self {
            database_url: secret_url(
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/payments",
                &["postgres://", "postgresql://"],
            )?,
            database_pool_size: parsed("DATABASE_POOL_SIZE", 16)?,
            redis_url: secret_url(
                "REDIS_URL",
                "redis://127.0.0.1:6379/0",
                &["redis://", "rediss://", "unix://", "redis+unix://"],
            )?,
            queue_prefix: var("QUEUE_PREFIX").unwrap_or_default(),
            stripe: stripe(app_env)?,
            api_bind: parsed("API_BIND", SocketAddr::from(([127, 0, 0, 1], 8000)))?,
            app_env,
            cookie_secure: boolean("COOKIE_SECURE", app_env == AppEnv::Production)?,
            allowed_origins: origins(),
            frontend_url: url("FRONTEND_URL", "http://localhost:3000")?,
            checkout_session_ttl: ttl()?,
            session_ttl: Duration::from_secs(parsed("SESSION_TTL_SECS", 14 * 24 * 3600)?),
            login_rate_per_minute: parsed("LOGIN_RATE_PER_MINUTE", 10)?,
            trust_forwarded_for: boolean("TRUST_FORWARDED_FOR", false)?,
            json_body_limit: parsed("JSON_BODY_LIMIT_BYTES", 64 * 1024)?,
            log_format: parsed("LOG_FORMAT", LogFormat::Text)?,
        })
    }

    pub fn is_development(&self) -> bool {
        self.app_env == AppEnv::Development
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_env_and_log_format_parse_strictly() {
        assert_eq!("production".parse::<AppEnv>(), Ok(AppEnv::Production));
        assert!("staging".parse::<AppEnv>().is_err());
        assert_eq!("JSON".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert!("xml".parse::<LogFormat>().is_err());
    }

    #[test]
    fn errors_name_the_variable() {
        let e = ConfigError::Invalid {
            var: "CHECKOUT_SESSION_TTL_SECS",
            reason: "10 is outside".into(),
        };
        assert!(e.to_string().starts_with("CHECKOUT_SESSION_TTL_SECS"));
    }
}
