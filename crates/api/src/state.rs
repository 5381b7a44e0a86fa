//! What every handler can reach, shared through `web::Data<AppState>`.

use crate::config::Settings;
use crate::queue::LazyQueue;
use domain::db::DbPool;
use domain::gateway::StripeGateway;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub gateway: Arc<dyn StripeGateway>,
    pub queue: Arc<LazyQueue>,
    pub settings: Arc<Settings>,
}
