//! What every handler can reach, shared through `web::Data<AppState>`.

use crate::config::Settings;
use crate::queue::LazyQueue;
use domain::db::{self, DbPool};
use domain::gateway::StripeGateway;
use domain::recorded_gateway::RecordedGateway;
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;
use stripe_client::StripeClient;
use worker::stripe::MeteredGateway;

/// How long a request waits for a pooled connection before its 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    /// Connections that hold `Idempotency-Key` claims while their request
    /// runs. Apart from `pool`, which the work takes its connection from:
    /// drawn from one pool, as many keyed requests as it has connections
    /// held them all and each waited for a second one until its 503.
    pub claims: DbPool,
    pub gateway: Arc<dyn StripeGateway>,
    pub queue: Arc<LazyQueue>,
    pub settings: Arc<Settings>,
}

impl AppState {
    /// The state of one server thread, with connections of its own to
    /// PostgreSQL, Stripe and Redis. A connection's socket is driven by a
    /// task on the runtime that opened it, so with pools shared by every
    /// thread a request was often served over a connection driven by the
    /// other thread, and each round trip woke that thread as well
    /// (docs/benchmarks.md, round 6). Nothing connects here: each pool
    /// opens its connections on first use, from this thread.
    pub fn for_this_thread(settings: &Arc<Settings>, stripe: &StripeClient) -> Self {
        let pool = db::pool(
            settings.database_url.expose_secret(),
            settings.pool_size_per_worker(),
            ACQUIRE_TIMEOUT,
        );
        let claims = db::pool(
            settings.database_url.expose_secret(),
            settings.claims_pool_size_per_worker(),
            ACQUIRE_TIMEOUT,
        );
        // Every Stripe call is written to `stripe_calls` for the timeline,
        // and counted in the same metrics the worker exports, so that
        // Stripe failing the API's cancels raises the same alert.
        let recorded = Arc::new(RecordedGateway::new(
            Arc::new(stripe.with_own_connections()),
            pool.clone(),
        ));
        let gateway = Arc::new(MeteredGateway::new(recorded));
        let queue = Arc::new(LazyQueue::new(
            settings.redis_url.clone(),
            settings.queue_prefix.clone(),
        ));
        Self {
            pool,
            claims,
            gateway,
            queue,
            settings: Arc::clone(settings),
        }
    }
}
