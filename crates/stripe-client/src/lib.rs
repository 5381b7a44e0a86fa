//! The Stripe gateway of the payments service.
//!
//! - [`StripeClient`] implements [`domain::gateway::StripeGateway`] with the
//!   request builders and types of async-stripe 1.0.0-rc.10, sent through our
//!   own [`transport::HttpTransport`] so that every attempt sees the status,
//!   `Retry-After` and `Stripe-Should-Retry` of the response.
//! - [`retry::RetryPolicy`] is the retry loop: every attempt of a POST carries
//!   the *same* `Idempotency-Key`.
//! - [`classify`] turns failures into [`domain::gateway::GatewayError`].
//! - [`webhook`] verifies `Stripe-Signature` and parses events into
//!   [`domain::events::StripeEvent`].
//!
//! See `docs/stripe.md` for the design.

pub mod classify;
pub mod client;
pub mod config;
pub mod convert;
pub mod retry;
pub mod transport;
pub mod webhook;

pub use client::StripeClient;
pub use config::{ConfigError, StripeConfig};
pub use webhook::WebhookError;
