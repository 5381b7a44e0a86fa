//! Wiring a worker process from its configuration.

use crate::config::WorkerConfig;
use crate::context::AppContext;
use crate::error::WorkerError;
use crate::queue::JobQueue;
use domain::db;
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;
use stripe_client::{StripeClient, StripeConfig};

/// Connects PostgreSQL, Redis and Stripe as `config` says.
pub async fn build_context(config: WorkerConfig) -> Result<Arc<AppContext>, WorkerError> {
    if config.stripe.uses_emulator {
        tracing::warn!(target: "payments", api_base = %config.stripe.api_base,
            "STRIPE_SECRET_KEY is not set: using the local Stripe EMULATOR (development only)");
    }
    let pool = db::pool(
        config.database_url.expose_secret(),
        config.db_pool_size,
        Duration::from_secs(5),
    );
    let queue = JobQueue::connect(
        config.redis_url.expose_secret(),
        config.queue_prefix.clone(),
    )
    .await?;
    let stripe = StripeClient::new(&StripeConfig::new(
        config.stripe.api_base.clone(),
        config.stripe.secret_key.clone(),
    ))?;
    Ok(AppContext::new(config, pool, Arc::new(stripe), queue))
}
