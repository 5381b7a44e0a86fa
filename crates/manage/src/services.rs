//! The services the operator commands talk to besides PostgreSQL: Stripe
//! (configured like the API and the worker) and the Redis job queues.

use anyhow::Context;
use clap::Args;
use secrecy::SecretString;
use stripe_client::{StripeClient, StripeConfig};

/// The local emulator a development run falls back to (SPEC §9).
pub const EMULATOR_API_BASE: &str = "http://127.0.0.1:12111";
const EMULATOR_KEY: &str = "sk_test_emulator";

/// Redis and the queue key prefix, shared with the API and the worker.
#[derive(Debug, Clone, Args)]
pub struct QueueOpts {
    /// Redis URL of the job queues.
    #[arg(long, env = "REDIS_URL", hide_env_values = true, default_value = crate::commands::wait_for_redis::DEFAULT_REDIS_URL)]
    pub redis_url: String,

    /// Prefix of every queue key in Redis (must match the worker's).
    #[arg(long, env = "QUEUE_PREFIX", default_value = "")]
    pub queue_prefix: String,
}

impl QueueOpts {
    pub async fn connect(&self) -> anyhow::Result<worker::JobQueue> {
        worker::JobQueue::connect(&self.redis_url, self.queue_prefix.clone())
            .await
            .with_context(|| {
                format!(
                    "cannot connect to Redis at {}",
                    crate::messages::redact_url(&self.redis_url)
                )
            })
    }
}

/// How Stripe is reached: `STRIPE_SECRET_KEY` and `STRIPE_API_BASE`, or the
/// local emulator when no key is set outside production.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub api_base: String,
    pub secret_key: SecretString,
    pub using_emulator: bool,
}

impl StripeSettings {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let production = get("APP_ENV").is_some_and(|v| v.trim() == "production");
        let base = get("STRIPE_API_BASE");
        if let Some(base) = &base {
            anyhow::ensure!(
                base.starts_with("http://") || base.starts_with("https://"),
                "STRIPE_API_BASE: '{base}' is not an http(s) URL"
            );
        }
        match get("STRIPE_SECRET_KEY") {
            Some(key) => Ok(Self {
                api_base: base.unwrap_or_else(|| stripe_client::config::STRIPE_API_BASE.into()),
                secret_key: SecretString::from(key),
                using_emulator: false,
            }),
            None if production => {
                anyhow::bail!("STRIPE_SECRET_KEY: must be set in production (APP_ENV=production)")
            }
            None => Ok(Self {
                api_base: base.unwrap_or_else(|| EMULATOR_API_BASE.into()),
                secret_key: SecretString::from(EMULATOR_KEY),
                using_emulator: true,
            }),
        }
    }

    /// The gateway; warns on stderr when it is the emulator.
    pub fn client(&self) -> anyhow::Result<StripeClient> {
        if self.using_emulator {
            tracing::warn!(target: "payments", api_base = %self.api_base,
                "STRIPE_SECRET_KEY is not set: using the local Stripe emulator");
        }
        let config = StripeConfig::new(self.api_base.clone(), self.secret_key.clone());
        StripeClient::new(&config).context("invalid Stripe configuration")
    }
}

/// Who an audit row names for a command run from this shell.
pub fn operator() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "manage".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> anyhow::Result<StripeSettings> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        StripeSettings::from_lookup(|var| map.get(var).map(|v| (*v).to_owned()))
    }

    #[test]
    fn no_key_in_development_means_the_emulator() {
        let s = settings(&[]).unwrap();
        assert!(s.using_emulator);
        assert_eq!(s.api_base, EMULATOR_API_BASE);
    }

    #[test]
    fn no_key_in_production_is_an_error_naming_the_variable() {
        let error = settings(&[("APP_ENV", "production")]).unwrap_err();
        assert!(
            error.to_string().starts_with("STRIPE_SECRET_KEY:"),
            "{error}"
        );
    }

    #[test]
    fn a_key_means_stripe_unless_the_base_is_overridden() {
        let s = settings(&[("STRIPE_SECRET_KEY", "sk_test_x")]).unwrap();
        assert!(!s.using_emulator);
        assert_eq!(s.api_base, stripe_client::config::STRIPE_API_BASE);
        let error = settings(&[("STRIPE_API_BASE", "ftp://x")]).unwrap_err();
        assert!(error.to_string().starts_with("STRIPE_API_BASE:"), "{error}");
    }
}
