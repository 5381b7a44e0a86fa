#![doc = include_str!("../README.md")]

pub mod auth;
pub mod body;
pub mod config;
pub mod error;
pub mod idempotency;
pub mod janitor;
pub mod lang;
pub mod memory;
pub mod messages;
pub mod middleware;
pub mod openapi;
pub mod pagination;
pub mod queue;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use config::Settings;
pub use error::ApiError;
pub use startup::Application;
