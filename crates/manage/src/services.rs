//! The services the operator commands talk to besides PostgreSQL: Stripe
//! (configured like the API and the worker) and the Redis job queues.

use anyhow::Context;
use clap::Args;
use domain::recorded_gateway::RecordedGateway;
use domain::settings::{self, AppEnv, ProcessEnv};
use std::sync::Arc;
use std::time::Duration;
use stripe_client::{StripeClient, StripeConfig};

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

/// The Stripe gateway of the commands that call Stripe, configured like
/// the API's and the worker's, its calls recorded in `stripe_calls` (the
/// staff timeline) on a small pool of their own.
pub fn recorded_stripe_from_env(database_url: &str) -> anyhow::Result<RecordedGateway> {
    let pool = domain::db::pool(database_url, 2, Duration::from_secs(10));
    Ok(RecordedGateway::on_own_pool(
        Arc::new(stripe_from_env()?),
        pool,
    ))
}

/// The Stripe gateway, configured like the API's and the worker's
/// (`APP_ENV`, `STRIPE_SECRET_KEY`, `STRIPE_API_BASE`: without a key a
/// development run uses the local emulator, production refuses); warns on
/// stderr when it is the emulator.
fn stripe_from_env() -> anyhow::Result<StripeClient> {
    let endpoint = settings::stripe_endpoint(
        &ProcessEnv,
        app_env()?,
        stripe_client::config::STRIPE_API_BASE,
    )?;
    if endpoint.uses_emulator {
        tracing::warn!(target: "payments", api_base = %endpoint.api_base,
            "STRIPE_SECRET_KEY is not set: using the local Stripe emulator");
    }
    let config = StripeConfig::new(endpoint.api_base, endpoint.secret_key);
    StripeClient::new(&config).context("invalid Stripe configuration")
}

/// `APP_ENV`, as the services read it.
pub fn app_env() -> anyhow::Result<AppEnv> {
    Ok(settings::parsed(
        &ProcessEnv,
        "APP_ENV",
        AppEnv::Development,
    )?)
}

/// Who an audit row names for a command run from this shell.
pub fn operator() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "manage".to_owned())
}
