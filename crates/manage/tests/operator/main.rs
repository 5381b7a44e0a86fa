//! The operator commands (sweep, sweep chain, cancellation, payment status,
//! HTTP check) against real PostgreSQL and Redis and an in-process Stripe
//! emulator, each test isolated by its own database, Redis key prefix and
//! emulator. Most call the command functions; `binary` runs `manage`.

mod binary;
mod cancellation;
mod chain;
mod names;
mod status;
mod support;
mod sweep;
