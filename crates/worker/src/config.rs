//! Typed configuration, read once at start from the environment. A bad
//! value fails start-up with a message naming the variable (SPEC §3).

use domain::settings::{
    StripeEndpoint, at_least, boolean, checkout_session_ttl, count, database_url, invalid, millis,
    parsed, redis_url, secs,
};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::time::Duration;

pub use domain::settings::{
    AppEnv, ConfigError, EMULATOR_API_BASE, Env, LogFilter, LogFormat, ProcessEnv,
};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/payments";
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
pub const DEFAULT_BOARD_BIND: &str = "127.0.0.1:5557";

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

impl QueueTiming {
    /// How long a worker may be silent before the others take its
    /// in-flight jobs back.
    pub fn orphan_after(&self) -> Duration {
        self.heartbeat * u32::try_from(self.missed_heartbeats).unwrap_or(u32::MAX)
    }
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub app_env: AppEnv,
    pub database_url: SecretString,
    pub redis_url: SecretString,
    pub stripe: StripeEndpoint,
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
    /// `RUST_LOG`.
    pub log_filter: LogFilter,
    pub db_pool_size: u32,
}

impl WorkerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&ProcessEnv)
    }

    /// How long a stopping worker lets its in-flight jobs run: the
    /// requested `WORKER_SHUTDOWN_TIMEOUT_SECS`, but ending a heartbeat
    /// before the others would take the jobs back. A stopping worker's
    /// heartbeat stops with its fetching, so a longer grace let another
    /// worker run the same job at the same time.
    pub fn shutdown_grace(&self) -> Duration {
        let before_takeover = self
            .queue
            .orphan_after()
            .saturating_sub(self.queue.heartbeat)
            .max(Duration::from_secs(1));
        self.shutdown_timeout.min(before_takeover)
    }

    pub fn from(env: &dyn Env) -> Result<Self, ConfigError> {
        let app_env: AppEnv = parsed(env, "APP_ENV", AppEnv::Development)?;
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
        let log_format: LogFormat = parsed(env, "LOG_FORMAT", LogFormat::Text)?;
        let session_ttl = checkout_session_ttl(env)?;
        let retention = secs(env, "TASK_RETENTION_SECS", 7 * 86400, 86400)?;
        let retry = RetryPolicy {
            max_attempts: at_least(env, "JOB_MAX_ATTEMPTS", 8, 1)?,
            base_backoff: millis(env, "JOB_BACKOFF_BASE_MS", 2000)?,
            max_backoff: secs(env, "JOB_BACKOFF_MAX_SECS", 300, 1)?,
            max_starts: at_least(env, "JOB_MAX_STARTS", 5, 1)?,
        };
        Ok(Self {
            app_env,
            database_url: database_url(env, DEFAULT_DATABASE_URL)?,
            redis_url: redis_url(env, DEFAULT_REDIS_URL)?,
            stripe: domain::settings::stripe_endpoint(
                env,
                app_env,
                stripe_client::config::STRIPE_API_BASE,
            )?,
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
            worker_concurrency: count(env, "WORKER_CONCURRENCY", 8)?,
            sweep_concurrency: count(env, "SWEEP_CONCURRENCY", 4)?,
            shutdown_timeout: secs(env, "WORKER_SHUTDOWN_TIMEOUT_SECS", 15, 1)?,
            task_retention: retention,
            maintenance_interval: secs(env, "MAINTENANCE_INTERVAL_SECS", 3600, 1)?,
            log_format,
            log_filter: parsed(env, "RUST_LOG", LogFilter::default())?,
            db_pool_size: at_least(env, "WORKER_DB_POOL_SIZE", 16, 2)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<WorkerConfig, ConfigError> {
        WorkerConfig::from(&vars)
    }

    #[test]
    fn counts_below_their_minimum_are_refused_naming_the_variable() {
        for (var, value) in [
            ("JOB_MAX_ATTEMPTS", "0"),
            ("JOB_MAX_STARTS", "0"),
            ("WORKER_DB_POOL_SIZE", "1"),
            ("WORKER_CONCURRENCY", "0"),
        ] {
            let err = config(&[(var, value)]).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{var}:")), "{var}={value}: {err}");
        }
    }

    #[test]
    fn the_shutdown_grace_ends_before_other_workers_take_the_jobs_back() {
        let c = config(&[]).unwrap();
        assert_eq!(c.queue.orphan_after(), Duration::from_secs(20));
        assert_eq!(c.shutdown_grace(), Duration::from_secs(15));
        let short = config(&[
            ("WORKER_HEARTBEAT_SECS", "2"),
            ("WORKER_MISSED_HEARTBEATS", "3"),
            ("WORKER_SHUTDOWN_TIMEOUT_SECS", "30"),
        ])
        .unwrap();
        assert_eq!(short.shutdown_grace(), Duration::from_secs(4));
        let shorter_asked = config(&[("WORKER_SHUTDOWN_TIMEOUT_SECS", "5")]).unwrap();
        assert_eq!(shorter_asked.shutdown_grace(), Duration::from_secs(5));
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = config(&[]).unwrap();
        assert_eq!(c.chain.busy, Duration::from_secs(300));
        assert_eq!(c.chain.idle, Duration::from_secs(900));
        assert_eq!(c.chain.error, Duration::from_secs(600));
        assert!(c.auto_cleanup);
        assert_eq!(c.board_bind, Some("127.0.0.1:5557".parse().unwrap()));
        assert!(c.stripe.uses_emulator);
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
        let err = config(&[("DATABASE_URL", "mysql://x")]).unwrap_err();
        assert!(err.to_string().starts_with("DATABASE_URL:"), "{err}");
        let err = config(&[("REDIS_URL", "http://x")]).unwrap_err();
        assert!(err.to_string().starts_with("REDIS_URL:"), "{err}");
        // The same schemes as the API's: a Unix socket is a Redis URL too.
        assert!(config(&[("REDIS_URL", "unix:///run/redis.sock")]).is_ok());
        let err = config(&[("RUST_LOG", "payments=notalevel")]).unwrap_err();
        assert!(err.to_string().starts_with("RUST_LOG:"), "{err}");
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
        assert!(!c.stripe.uses_emulator);
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
