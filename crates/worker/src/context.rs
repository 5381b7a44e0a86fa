//! What every handler and background loop of a worker process shares.

use crate::config::WorkerConfig;
use crate::queue::JobQueue;
use crate::stripe::{MeteredGateway, StripeEventParser};
use domain::db::DbPool;
use domain::gateway::StripeGateway;
use domain::recorded_gateway::RecordedGateway;
use domain::services::EventParser;
use std::sync::Arc;

pub struct AppContext {
    pub config: WorkerConfig,
    pub pool: DbPool,
    pub gateway: Arc<dyn StripeGateway>,
    pub parser: Arc<dyn EventParser>,
    pub queue: JobQueue,
}

impl AppContext {
    /// Stripe calls go through [`MeteredGateway`] (metrics) and
    /// [`RecordedGateway`] (the `stripe_calls` log); events are parsed by
    /// `stripe-client`.
    pub fn new(
        config: WorkerConfig,
        pool: DbPool,
        gateway: Arc<dyn StripeGateway>,
        queue: JobQueue,
    ) -> Arc<Self> {
        // Metrics recorded before the recorder exists are lost: install it
        // with the context, whoever builds one (the binary or a test).
        crate::metrics::install();
        let recorded = Arc::new(RecordedGateway::new(gateway, pool.clone()));
        Arc::new(Self {
            config,
            pool,
            gateway: Arc::new(MeteredGateway::new(recorded)),
            parser: Arc::new(StripeEventParser),
            queue,
        })
    }
}
