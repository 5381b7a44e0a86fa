//! Emulator settings.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

pub const DEFAULT_BIND: &str = "127.0.0.1:12111";
pub const DEFAULT_WEBHOOK_SECRET: &str = "whsec_emulator";

#[derive(Clone)]
pub struct EmulatorConfig {
    /// Port 0 picks a free port (tests).
    pub bind: SocketAddr,
    /// Where hosted checkout pages are served from, as seen by browsers;
    /// defaults to `http://{bound address}`.
    pub public_url: Option<String>,
    /// When set, the only API key accepted; otherwise any `sk_test_`,
    /// `sk_live_`, `rk_test_` or `rk_live_` key.
    pub api_key: Option<String>,
    pub webhook_urls: Vec<String>,
    pub webhook_secret: String,
    /// Delivery attempts per event and URL, the first included.
    pub webhook_max_attempts: u32,
    /// First retry delay, doubled each time up to `webhook_max_backoff`.
    pub webhook_backoff: Duration,
    pub webhook_max_backoff: Duration,
    pub webhook_timeout: Duration,
    /// How often open sessions are checked against `expires_at`.
    pub tick: Duration,
    pub workers: usize,
}

impl fmt::Debug for EmulatorConfig {
    /// Leaves the API key and the webhook secret out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("bind", &self.bind)
            .field("public_url", &self.public_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("webhook_urls", &self.webhook_urls)
            .field("webhook_secret", &"[REDACTED]")
            .field("webhook_max_attempts", &self.webhook_max_attempts)
            .field("webhook_backoff", &self.webhook_backoff)
            .field("webhook_max_backoff", &self.webhook_max_backoff)
            .field("webhook_timeout", &self.webhook_timeout)
            .field("tick", &self.tick)
            .field("workers", &self.workers)
            .finish()
    }
}

impl Default for EmulatorConfig {
    /// Development defaults: `127.0.0.1:12111`, webhooks retried 5 times
    /// from 1 s up to 30 s.
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 12111)),
            public_url: None,
            api_key: None,
            webhook_urls: Vec::new(),
            webhook_secret: DEFAULT_WEBHOOK_SECRET.into(),
            webhook_max_attempts: 5,
            webhook_backoff: Duration::from_secs(1),
            webhook_max_backoff: Duration::from_secs(30),
            webhook_timeout: Duration::from_secs(10),
            tick: Duration::from_secs(1),
            workers: 2,
        }
    }
}

impl EmulatorConfig {
    /// For tests: a free port on 127.0.0.1, fast webhook retries and ticks.
    pub fn for_tests() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            webhook_backoff: Duration::from_millis(20),
            webhook_max_backoff: Duration::from_millis(200),
            webhook_timeout: Duration::from_secs(2),
            tick: Duration::from_millis(50),
            workers: 1,
            ..Self::default()
        }
    }

    pub fn with_webhook_url(mut self, url: impl Into<String>) -> Self {
        self.webhook_urls.push(url.into());
        self
    }

    pub fn with_webhook_secret(mut self, secret: impl Into<String>) -> Self {
        self.webhook_secret = secret.into();
        self
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_output_hides_the_secrets() {
        let config = super::EmulatorConfig {
            api_key: Some("sk_test_hidden_key".into()),
            ..super::EmulatorConfig::default()
        }
        .with_webhook_secret("whsec_hidden_secret");
        let shown = format!("{config:?}");
        assert!(!shown.contains("hidden"), "{shown}");
    }
}
