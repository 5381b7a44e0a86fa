//! Worker tests against real PostgreSQL and Redis, each isolated (its own
//! database, Redis key prefix and Stripe emulator).

mod chain;
mod jobs;
mod maintenance;
mod operations;
mod support;
mod sweep;
mod tasks;
