//! Typed configuration, read once at start from the environment. A bad
//! value fails start-up with a message naming the variable (SPEC §3).

use secrecy::SecretString;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/payments";
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
pub const DEFAULT_BOARD_BIND: &str = "127.0.0.1:5557";
/// The local Stripe emulator a development run falls back to.
pub const EMULATOR_API_BASE: &str = "http://127.0.0.1:12111";
const EMULATOR_KEY: &str = "sk_test_emulator";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}: {message}")]
    Invalid { var: &'static str, message: String },
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// How Stripe is reached.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub api_base: String,
    pub secret_key: SecretString,
    /// No key was configured: a development run talks to the emulator.
    pub using_emulator: bool,
}

/// The delays of the sweep chain (SPEC §5.4) and of the dead-man switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainTiming {
    /// After a run that fixed something.
    pub busy: Duration,
    /// After a run that found nothing to fix.
    pub idle: Duration,
    /// After a run that failed.
    pub error: Duration,
    /// Delay of the first link seeded at worker start.
    pub initial_delay: Duration,
    /// How often each worker checks the chain's heartbeat.
    pub deadman_interval: Duration,
    /// How late a link may be before the chain is declared dead.
    pub overdue_grace: Duration,
}

/// Retries of our own (apalis-redis's 25 hard-coded attempts are never used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// A task whose worker died this many times while running it is given
    /// up (apalis re-runs orphans without counting them as attempts).
    pub max_starts: u32,
}

impl RetryPolicy {
    /// Delay before attempt `next` (2, 3, ...): base × 2^(next-2), capped.
    pub fn backoff(&self, next: u32) -> Duration {
        let exponent = next.saturating_sub(2).min(20);
        self.base_backoff
            .saturating_mul(1 << exponent)
            .min(self.max_backoff)
    }
}

/// apalis-redis liveness settings (orphans are taken back after
/// `heartbeat × missed_heartbeats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueTiming {
    pub heartbeat: Duration,
    pub missed_heartbeats: usize,
    /// How often an idle worker looks for due jobs.
    pub poll_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub app_env: AppEnv,
    pub database_url: String,
    pub redis_url: String,
    pub stripe: StripeSettings,
    pub webhook_secret: Option<SecretString>,
    /// `None` when the board is switched off (`BOARD_BIND=off`).
    pub board_bind: Option<SocketAddr>,
    pub auto_cleanup: bool,
    pub chain: ChainTiming,
    pub retry: RetryPolicy,
    pub queue: QueueTiming,
    pub session_ttl: Duration,
    pub queue_prefix: String,
    pub worker_concurrency: usize,
    pub sweep_concurrency: usize,
    pub shutdown_timeout: Duration,
    /// Finished task records (and apalis's done/dead data) older than
    /// this are deleted; at least 24 h.
    pub task_retention: Duration,
    pub maintenance_interval: Duration,
    pub log_format: LogFormat,
    pub db_pool_size: u32,
}

fn invalid(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        message: message.into(),
    }
}

fn parsed<T: FromStr>(env: &dyn Env, var: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env.get(var) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e| invalid(var, format!("cannot parse '{raw}': {e}"))),
    }
}

fn secs(env: &dyn Env, var: &'static str, default: u64, min: u64) -> Result<Duration, ConfigError> {
    let value: u64 = parsed(env, var, default)?;
    if value < min {
        return Err(invalid(
            var,
            format!("must be at least {min} (got {value})"),
        ));
    }
    Ok(Duration::from_secs(value))
}

fn millis(env: &dyn Env, var: &'static str, default: u64) -> Result<Duration, ConfigError> {
    let value: u64 = parsed(env, var, default)?;
    if value == 0 {
        return Err(invalid(var, "must be greater than 0"));
    }
    Ok(Duration::from_millis(value))
}

fn boolean(env: &dyn Env, var: &'static str, default: bool) -> Result<bool, ConfigError> {
    match env.get(var).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(invalid(var, format!("expected true or false, got '{v}'"))),
    }
}

fn count(env: &dyn Env, var: &'static str, default: usize) -> Result<usize, ConfigError> {
    let value: usize = parsed(env, var, default)?;
    if value == 0 {
        return Err(invalid(var, "must be at least 1"));
    }
    Ok(value)
}

fn stripe(env: &dyn Env, app_env: AppEnv) -> Result<StripeSettings, ConfigError> {
    let key = env.get("STRIPE_SECRET_KEY");
    let base = env.get("STRIPE_API_BASE");
    if let Some(base) = &base
        && !(base.starts_with("http://") || base.starts_with("https://"))
    {
        return Err(invalid(
            "STRIPE_API_BASE",
            format!("'{base}' is not an http(s) URL"),
        ));
    }
    match key {
        Some(key) => Ok(StripeSettings {
            api_base: base.unwrap_or_else(|| stripe_client::config::STRIPE_API_BASE.to_owned()),
            secret_key: SecretString::from(key),
            using_emulator: false,
        }),
        None if app_env == AppEnv::Production => Err(invalid(
            "STRIPE_SECRET_KEY",
            "must be set in production (APP_ENV=production)",
        )),
        None => Ok(StripeSettings {
            api_base: base.unwrap_or_else(|| EMULATOR_API_BASE.to_owned()),
            secret_key: SecretString::from(EMULATOR_KEY),
            using_emulator: true,
        }),
    }
}

impl WorkerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&ProcessEnv)
    }

    pub fn from(env: &dyn Env) -> Result<Self, ConfigError> {
        let app_env = match env.get("APP_ENV").as_deref().map(str::trim) {
            None | Some("development") => AppEnv::Development,
            Some("production") => AppEnv::Production,
            Some(other) => {
                return Err(invalid(
                    "APP_ENV",
                    format!("expected development or production, got '{other}'"),
                ));
            }
        };
        let board_bind =
            match env.get("BOARD_BIND") {
                Some(v) if v.trim() == "off" => None,
                other => {
                    let raw = other.unwrap_or_else(|| DEFAULT_BOARD_BIND.to_owned());
                    Some(raw.trim().parse().map_err(|e| {
                        invalid("BOARD_BIND", format!("'{raw}' is not host:port: {e}"))
                    })?)
                }
            };
        let log_format = match env.get("LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "LOG_FORMAT",
                    format!("expected text or json, got '{other}'"),
                ));
            }
        };
        let session_ttl = secs(env, "CHECKOUT_SESSION_TTL_SECS", 1800, 1)?;
        if !(1800..=86400).contains(&session_ttl.as_secs()) {
            return Err(invalid(
                "CHECKOUT_SESSION_TTL_SECS",
                "Stripe accepts 1800..86400 seconds",
            ));
        }
        let retention = secs(env, "TASK_RETENTION_SECS", 7 * 86400, 86400)?;
        let retry = RetryPolicy {
            max_attempts: parsed(env, "JOB_MAX_ATTEMPTS", 8u32)?.max(1),
            base_backoff: millis(env, "JOB_BACKOFF_BASE_MS", 2000)?,
            max_backoff: secs(env, "JOB_BACKOFF_MAX_SECS", 300, 1)?,
            max_starts: parsed(env, "JOB_MAX_STARTS", 5u32)?.max(1),
        };
        Ok(Self {
            app_env,
            database_url: env
                .get("DATABASE_URL")
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            redis_url: env
                .get("REDIS_URL")
                .unwrap_or_else(|| DEFAULT_REDIS_URL.to_owned()),
            stripe: stripe(env, app_env)?,
            webhook_secret: env.get("STRIPE_WEBHOOK_SECRET").map(SecretString::from),
            board_bind,
            auto_cleanup: boolean(env, "AUTO_CLEANUP", true)?,
            chain: ChainTiming {
                busy: secs(env, "CLEANUP_INTERVAL_BUSY_SECS", 300, 1)?,
                idle: secs(env, "CLEANUP_INTERVAL_IDLE_SECS", 900, 1)?,
                error: secs(env, "CLEANUP_INTERVAL_ERROR_SECS", 600, 1)?,
                initial_delay: secs(env, "CLEANUP_INITIAL_DELAY_SECS", 10, 0)?,
                deadman_interval: secs(env, "CHAIN_DEADMAN_INTERVAL_SECS", 30, 1)?,
                overdue_grace: secs(env, "CHAIN_OVERDUE_GRACE_SECS", 120, 1)?,
            },
            retry,
            queue: QueueTiming {
                heartbeat: secs(env, "WORKER_HEARTBEAT_SECS", 5, 1)?,
                missed_heartbeats: count(env, "WORKER_MISSED_HEARTBEATS", 4)?,
                poll_interval: millis(env, "WORKER_POLL_INTERVAL_MS", 500)?,
            },
            session_ttl,
            queue_prefix: env.get("QUEUE_PREFIX").unwrap_or_default(),
            worker_concurrency: count(env, "WORKER_CONCURRENCY", 4)?,
            sweep_concurrency: count(env, "SWEEP_CONCURRENCY", 4)?,
            shutdown_timeout: secs(env, "WORKER_SHUTDOWN_TIMEOUT_SECS", 30, 1)?,
            task_retention: retention,
            maintenance_interval: secs(env, "MAINTENANCE_INTERVAL_SECS", 3600, 1)?,
            log_format,
            db_pool_size: parsed(env, "WORKER_DB_POOL_SIZE", 10u32)?.max(2),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<WorkerConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        WorkerConfig::from(&move |var: &str| map.get(var).cloned())
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = config(&[]).unwrap();
        assert_eq!(c.chain.busy, Duration::from_secs(300));
        assert_eq!(c.chain.idle, Duration::from_secs(900));
        assert_eq!(c.chain.error, Duration::from_secs(600));
        assert!(c.auto_cleanup);
        assert_eq!(c.board_bind, Some("127.0.0.1:5557".parse().unwrap()));
        assert!(c.stripe.using_emulator);
        assert_eq!(c.stripe.api_base, EMULATOR_API_BASE);
        assert_eq!(c.queue_prefix, "");
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let err = config(&[("CLEANUP_INTERVAL_IDLE_SECS", "soon")]).unwrap_err();
        assert!(
            err.to_string().starts_with("CLEANUP_INTERVAL_IDLE_SECS:"),
            "{err}"
        );
        let err = config(&[("AUTO_CLEANUP", "maybe")]).unwrap_err();
        assert!(err.to_string().starts_with("AUTO_CLEANUP:"), "{err}");
        let err = config(&[("BOARD_BIND", "nowhere")]).unwrap_err();
        assert!(err.to_string().starts_with("BOARD_BIND:"), "{err}");
        let err = config(&[("TASK_RETENTION_SECS", "3600")]).unwrap_err();
        assert!(err.to_string().contains("at least 86400"), "{err}");
    }

    #[test]
    fn production_requires_a_stripe_key() {
        let err = config(&[("APP_ENV", "production")]).unwrap_err();
        assert!(err.to_string().starts_with("STRIPE_SECRET_KEY:"), "{err}");
        let c = config(&[
            ("APP_ENV", "production"),
            ("STRIPE_SECRET_KEY", "sk_live_x"),
        ])
        .unwrap();
        assert!(!c.stripe.using_emulator);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 8,
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(10),
            max_starts: 5,
        };
        assert_eq!(policy.backoff(2), Duration::from_secs(2));
        assert_eq!(policy.backoff(3), Duration::from_secs(4));
        assert_eq!(policy.backoff(4), Duration::from_secs(8));
        assert_eq!(policy.backoff(5), Duration::from_secs(10));
        assert_eq!(policy.backoff(30), Duration::from_secs(10));
    }
}
