//! The reliability suite's shared harness (a test-only crate).
//!
//! - [`stack`]: the real API, worker and Stripe emulator in one process,
//!   each on its own PostgreSQL database and Redis key prefix (the
//!   model-based tests in `tests/model.rs`).
//! - [`model`]: the operations a customer, Stripe, an operator and the
//!   sweep perform, as a Debug-printable enum, and their interpreter.
//! - [`settle`] and [`checks`]: bring a run to rest (webhooks delivered,
//!   jobs drained, one sweep) and check SPEC §4's invariants plus the
//!   agreement of every payment with what Stripe says.
//! - [`chaos`]: the fault-injection run of the `chaos` binary, on the real
//!   binaries with a PostgreSQL and a Redis of its own.
//!
//! Shared by the tests and the binary, so both drive the service through
//! the same HTTP client ([`client`]) and emulator controls ([`emulator`]).

pub mod chaos;
pub mod checks;
pub mod client;
pub mod emulator;
pub mod model;
pub mod settle;
pub mod stack;
pub mod world;
