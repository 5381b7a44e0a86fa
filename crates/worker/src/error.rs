//! The worker crate's error type.

use crate::config::ConfigError;
use crate::queue::QueueError;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
    #[error("database set-up: {0}")]
    DbSetup(#[from] domain::db::DbSetupError),
    #[error("Stripe client: {0}")]
    Stripe(#[from] stripe_client::ConfigError),
    #[error("cannot push to Redis: {0}")]
    Push(String),
    #[error("worker: {0}")]
    Runner(String),
    #[error("board: {0}")]
    Board(#[from] std::io::Error),
}

impl From<diesel_async::pooled_connection::bb8::RunError> for WorkerError {
    fn from(e: diesel_async::pooled_connection::bb8::RunError) -> Self {
        WorkerError::DatabaseUnavailable(domain::db::unavailable_reason(&e))
    }
}
