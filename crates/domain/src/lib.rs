//! The payments reliability core: typed values, states and their allowed
//! transitions, the diesel schema, and the services every caller (API,
//! worker, CLI) uses to reserve, cancel, expire, complete, fail and refund.
//!
//! Stripe is reached only through [`gateway::StripeGateway`]; this crate
//! depends on no web framework, queue runtime or Stripe crate.

pub mod audit;
pub mod auth;
pub mod db;
pub mod error;
pub mod events;
pub mod gateway;
pub mod i18n;
pub mod invariants;
pub mod jobs;
pub mod models;
pub mod queries;
pub mod recorded_gateway;
pub mod schema;
pub mod schema_api;
pub mod services;
pub mod settings;
pub mod states;
#[cfg(feature = "testing")]
pub mod testing;
pub mod values;

pub use error::DomainError;
pub use states::{OrderStatus, PaymentStatus};
pub use values::{
    ids::{CouponId, OrderId, PaymentId, ProductId, UserId},
    money::{Currency, Money},
};
