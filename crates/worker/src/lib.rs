//! The payments worker: apalis-redis job handlers, the self-rescheduling
//! sweep chain and the monitoring board. [`queue`] is also used by the API
//! and the CLI to enqueue jobs.

pub mod queue;
