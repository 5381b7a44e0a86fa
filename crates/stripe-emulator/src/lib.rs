//! A local, stateful Stripe emulator for tests and development.
//!
//! It speaks the part of Stripe's REST API the payments service uses —
//! form-encoded requests, Bearer key auth, Stripe-shaped objects and errors
//! that async-stripe and the official libraries parse — keeps its state in
//! memory, serves a hosted checkout page, and delivers signed webhooks.
//! `/_emulator/*` endpoints control it (see `docs/stripe-emulator.md`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), stripe_emulator::EmulatorError> {
//! let emulator = stripe_emulator::Emulator::start(stripe_emulator::EmulatorConfig::for_tests()).await?;
//! println!("Stripe API at {}", emulator.base_url());
//! emulator.stop().await;
//! # Ok(()) }
//! ```

mod app;
pub mod checkout_page;
pub mod clock;
pub mod config;
pub mod error;
pub mod faults;
pub mod form;
pub mod idempotency;
mod ids;
pub mod objects;
mod routes;
mod server;
pub mod signature;
pub mod state;
pub mod webhooks;

/// The API version the emulator's objects follow (async-stripe 1.0.0-rc.10's).
pub const API_VERSION: &str = "2026-09-30.endive";

pub use config::EmulatorConfig;
pub use error::{ApiError, EmulatorError};
pub use faults::Fault;
pub use idempotency::KeySeen;
pub use server::{Emulator, EmulatorHandle};
pub use signature::sign;
pub use state::{PayOutcome, RequestRecord};
pub use webhooks::{DeliveryRecord, Mode as WebhookMode};
