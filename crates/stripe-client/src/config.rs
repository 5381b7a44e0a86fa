//! How the client reaches Stripe. The secret key is a [`SecretString`]: it is
//! never printed by `Debug` and only exposed when the `Authorization` header
//! is built.

use secrecy::SecretString;
use std::time::Duration;

/// Stripe's production API origin.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com/";

#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// Origin of the API, e.g. `https://api.stripe.com/` or the emulator's
    /// `http://127.0.0.1:12111`. Requests go to `{api_base}/v1/...`.
    pub api_base: String,
    /// `sk_live_...` / `sk_test_...`.
    pub secret_key: SecretString,
    /// Budget of one HTTP attempt (connect + response body).
    pub timeout: Duration,
    /// Attempts in all, the first one included (at least 1).
    pub max_attempts: u32,
    /// First backoff step; doubled after each failed attempt.
    pub base_backoff: Duration,
    /// Cap of one backoff sleep, and of an honoured `Retry-After`.
    pub max_backoff: Duration,
    /// Budget of one whole call, retries included (`None`: only the
    /// attempts bound it).
    pub deadline: Option<Duration>,
}

impl StripeConfig {
    /// Production-like defaults: 10 s per attempt, 4 attempts, backoff from
    /// 250 ms capped at 8 s.
    pub fn new(api_base: impl Into<String>, secret_key: SecretString) -> Self {
        Self {
            api_base: api_base.into(),
            secret_key,
            timeout: Duration::from_secs(10),
            max_attempts: 4,
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            deadline: None,
        }
    }

    /// For calls a person is waiting on (the API's cancel, checkout,
    /// status refresh, sync): a slow Stripe is given up after 6 s in all,
    /// where [`StripeConfig::new`] may take over 40 s. The cancel then
    /// completes locally and the sweep expires the session later; the
    /// others answer 503.
    pub fn interactive(api_base: impl Into<String>, secret_key: SecretString) -> Self {
        Self {
            timeout: Duration::from_secs(4),
            max_attempts: 3,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            deadline: Some(Duration::from_secs(6)),
            ..Self::new(api_base, secret_key)
        }
    }
}

/// The configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid Stripe API base URL '{0}'")]
    InvalidBaseUrl(String),
    #[error("the Stripe secret key is empty or not a valid header value")]
    InvalidSecretKey,
    #[error("max_attempts must be at least 1")]
    NoAttempts,
}
