//! `manage`, the operators' command line (SPEC §8): migrations, readiness
//! checks for PostgreSQL and Redis, users, API tokens, demo data, and the
//! operator commands: sweeps, the sweep chain, cancellations, a live payment
//! table and an HTTP health check.
//!
//! Every command lives in [`commands`] as an `Opts` struct plus a `run`
//! function that works on a connection and returns data, so tests call
//! commands directly; printing is kept apart in each command's `print`.

pub mod cli;
pub mod commands;
pub mod database;
pub mod messages;
pub mod password;
pub mod payments;
pub mod services;
pub mod waiting;

pub use cli::Cli;
pub use commands::execute;
