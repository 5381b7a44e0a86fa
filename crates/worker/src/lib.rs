//! The payments worker (binary `payments-worker`): apalis-redis job
//! handlers, the single self-rescheduling sweep chain with its dead-man
//! switch, task records in PostgreSQL, and the monitoring board.
//! [`queue`] is also used by the API and the CLI to enqueue jobs; the CLI
//! calls [`ensure_chain`] and [`chain_status`]. See `docs/architecture.md`.

pub mod app;
pub mod board;
mod board_page;
pub mod chain;
pub mod config;
pub mod context;
pub mod error;
pub mod jobs;
pub mod maintenance;
pub mod metrics;
pub mod queue;
pub mod runner;
pub mod stripe;
pub mod tasks;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
mod wakeup;

pub use app::build_context;
pub use chain::{
    ChainEnsured, ChainHealth, ChainRequest, ChainStatus, chain_status, ensure_chain,
    ensure_chain_with,
};
pub use config::WorkerConfig;
pub use context::AppContext;
pub use error::WorkerError;
pub use queue::{JobQueue, QueueError};
pub use runner::{WorkerHandle, start};
