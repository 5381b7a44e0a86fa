//! Emulator settings.

use crate::error::EmulatorError;
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

    /// Checks the settings a person types (webhook URLs, public URL, webhook
    /// secret), so that a bad value stops the emulator at start rather than
    /// failing every webhook delivery or checkout link later.
    pub fn validate(&self) -> Result<(), EmulatorError> {
        for url in &self.webhook_urls {
            check_webhook_url(url).map_err(|reason| Setting::WebhookUrl.error(reason))?;
        }
        if let Some(url) = &self.public_url {
            check_public_url(url).map_err(|reason| Setting::PublicUrl.error(reason))?;
        }
        if self.webhook_secret.trim().is_empty() {
            return Err(
                Setting::WebhookSecret.error("must not be empty: webhooks are signed with it")
            );
        }
        Ok(())
    }
}

/// A start-up setting of the binary, which reads each from a flag or an
/// environment variable; an error names both, since either may have set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Bind,
    WebhookUrl,
    WebhookSecret,
    PublicUrl,
}

impl Setting {
    pub const ALL: [Setting; 4] = [
        Setting::Bind,
        Setting::WebhookUrl,
        Setting::WebhookSecret,
        Setting::PublicUrl,
    ];

    pub fn flag(self) -> &'static str {
        match self {
            Setting::Bind => "--bind",
            Setting::WebhookUrl => "--webhook-url",
            Setting::WebhookSecret => "--webhook-secret",
            Setting::PublicUrl => "--public-url",
        }
    }

    pub fn env(self) -> &'static str {
        match self {
            Setting::Bind => "EMULATOR_BIND",
            Setting::WebhookUrl => "EMULATOR_WEBHOOK_URLS",
            Setting::WebhookSecret => "STRIPE_WEBHOOK_SECRET",
            Setting::PublicUrl => "EMULATOR_PUBLIC_URL",
        }
    }

    pub fn error(self, reason: impl Into<String>) -> EmulatorError {
        EmulatorError::Setting {
            setting: self,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.flag(), self.env())
    }
}

/// The `--bind` / `EMULATOR_BIND` value: `IP:port`.
pub fn parse_bind(raw: &str) -> Result<SocketAddr, EmulatorError> {
    raw.trim().parse().map_err(|_| {
        Setting::Bind.error(format!(
            "'{raw}' is not an IP:port address (e.g. {DEFAULT_BIND})"
        ))
    })
}

/// Why `url` cannot receive webhooks, if it cannot. The one check for
/// start-up settings and `POST /_emulator/webhooks/endpoints`. Only
/// http:// is accepted because the delivery client is built without TLS
/// (reqwest with no TLS feature), so an https:// endpoint would fail on
/// every attempt.
pub fn check_webhook_url(url: &str) -> Result<(), String> {
    let parsed = absolute_url(url)?;
    if parsed.scheme() != "http" {
        return Err(format!(
            "'{url}' is not an http:// URL; webhooks are delivered over http:// only (the emulator has no TLS)"
        ));
    }
    Ok(())
}

/// Why `url` cannot be the base of hosted checkout pages, if it cannot.
/// Browsers may reach the emulator through an https:// proxy, so both
/// schemes are fine; `/pay/{id}` is appended, so no query or fragment.
pub fn check_public_url(url: &str) -> Result<(), String> {
    let parsed = absolute_url(url)?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("'{url}' is not an http:// or https:// URL"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "'{url}' has a query or fragment; /pay/{{id}} is appended to it"
        ));
    }
    Ok(())
}

/// `url` parsed, if it is absolute and names a host.
fn absolute_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("'{url}' is not an absolute URL ({e})"))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("'{url}' names no host"));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_must_be_absolute_http_urls() {
        assert_eq!(check_webhook_url("http://127.0.0.1:8000/hook/"), Ok(()));
        for bad in [
            "notaurl",
            "ftp://x",
            "https://example.com/hook",
            "http://",
            "/hook",
        ] {
            assert!(check_webhook_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_public_url_may_be_https_but_has_no_query() {
        assert_eq!(
            check_public_url("https://pay.example.test/emulator"),
            Ok(())
        );
        assert_eq!(check_public_url("http://localhost:12111"), Ok(()));
        for bad in ["zzz", "ftp://x", "http://x/?a=1", "http://x/#top"] {
            assert!(check_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bad_setting_names_its_flag_and_its_environment_variable() {
        let config = |change: fn(&mut EmulatorConfig)| {
            let mut config = EmulatorConfig::default();
            change(&mut config);
            config.validate().unwrap_err().to_string()
        };
        let url = config(|c| c.webhook_urls = vec!["http://ok.test/".into(), "notaurl".into()]);
        assert!(
            url.starts_with("--webhook-url / EMULATOR_WEBHOOK_URLS: 'notaurl'"),
            "{url}"
        );
        let public = config(|c| c.public_url = Some("zzz".into()));
        assert!(
            public.starts_with("--public-url / EMULATOR_PUBLIC_URL: 'zzz'"),
            "{public}"
        );
        let secret = config(|c| c.webhook_secret = String::new());
        assert!(
            secret.starts_with("--webhook-secret / STRIPE_WEBHOOK_SECRET: "),
            "{secret}"
        );
        let bind = parse_bind("bogus").unwrap_err().to_string();
        assert!(
            bind.starts_with("--bind / EMULATOR_BIND: 'bogus'"),
            "{bind}"
        );
        for message in [url, public, secret, bind] {
            assert!(!message.contains('\n'), "one line: {message}");
        }
    }

    #[test]
    fn the_defaults_are_valid() {
        assert!(EmulatorConfig::default().validate().is_ok());
        assert!(EmulatorConfig::for_tests().validate().is_ok());
        assert_eq!(
            parse_bind(DEFAULT_BIND).unwrap(),
            EmulatorConfig::default().bind
        );
    }

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
