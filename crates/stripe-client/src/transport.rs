//! One HTTP attempt against the Stripe API.
//!
//! async-stripe's own hyper client hides the response headers, so a 429's
//! `Retry-After` and `Stripe-Should-Retry` would be lost, and it disables
//! connection pooling. This transport implements async-stripe's
//! [`stripe_client_core::StripeClient`] extension trait instead: the request
//! builders and response types stay async-stripe's, and each attempt reports
//! everything the retry loop needs. It never retries by itself.

use crate::config::{ConfigError, StripeConfig};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{
    AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT,
};
use hyper::{Method, Request, Uri};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use secrecy::ExposeSecret;
use serde::Deserialize;
use std::fmt;
use std::time::Duration;
use stripe_client_core::{CustomizedStripeRequest, StripeClientErr, StripeMethod};

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const STRIPE_VERSION: HeaderName = HeaderName::from_static("stripe-version");
const USER_AGENT_VALUE: &str = concat!("payments-stripe-client/", env!("CARGO_PKG_VERSION"));

/// The `error` object of a Stripe error response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ApiErrorBody {
    #[serde(rename = "type", default)]
    pub type_: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ApiErrorBody,
}

/// How one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// Stripe answered with a non-2xx status.
    Api {
        status: u16,
        /// `None` when the body was not a Stripe error object.
        error: Option<ApiErrorBody>,
        retry_after: Option<Duration>,
        /// `Stripe-Should-Retry`, when sent.
        should_retry: Option<bool>,
    },
    /// The attempt ran past its timeout.
    Timeout,
    /// Connecting, sending or reading failed.
    Connection(String),
    /// A 2xx body that does not deserialize into the expected type.
    Decode(String),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Api { status, error, .. } => {
                write!(f, "HTTP {status}")?;
                if let Some(e) = error {
                    write!(f, " {}", e.type_)?;
                    if let Some(code) = &e.code {
                        write!(f, "/{code}")?;
                    }
                    if let Some(message) = &e.message {
                        write!(f, ": {message}")?;
                    }
                }
                Ok(())
            }
            TransportError::Timeout => f.write_str("timed out"),
            TransportError::Connection(e) => write!(f, "connection failed: {e}"),
            TransportError::Decode(e) => write!(f, "unexpected response: {e}"),
        }
    }
}

impl std::error::Error for TransportError {}

impl StripeClientErr for TransportError {
    fn deserialize_err(msg: impl fmt::Display) -> Self {
        TransportError::Decode(msg.to_string())
    }
}

type PooledClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A new connection pool. Each connection is driven by a task spawned on
/// the runtime that opened it.
fn pooled_client() -> PooledClient {
    let connector = HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// A pooled HTTP(S) client bound to one API base and key.
#[derive(Clone)]
pub struct HttpTransport {
    client: PooledClient,
    api_base: String,
    authorization: HeaderValue,
    timeout: Duration,
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("api_base", &self.api_base)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpTransport {
    pub fn new(config: &StripeConfig) -> Result<Self, ConfigError> {
        let mut api_base = config.api_base.trim().to_owned();
        if !api_base.ends_with('/') {
            api_base.push('/');
        }
        api_base
            .parse::<Uri>()
            .ok()
            .filter(|uri| uri.scheme().is_some() && uri.host().is_some())
            .ok_or_else(|| ConfigError::InvalidBaseUrl(config.api_base.clone()))?;
        let key = config.secret_key.expose_secret();
        if key.is_empty() {
            return Err(ConfigError::InvalidSecretKey);
        }
        let mut authorization = HeaderValue::try_from(format!("Bearer {key}"))
            .map_err(|_| ConfigError::InvalidSecretKey)?;
        authorization.set_sensitive(true);
        Ok(Self {
            client: pooled_client(),
            api_base,
            authorization,
            timeout: config.timeout,
        })
    }

    /// The same endpoint and key over a pool of its own.
    pub fn with_own_connections(&self) -> Self {
        Self {
            client: pooled_client(),
            ..self.clone()
        }
    }

    fn build_request(
        &self,
        req: CustomizedStripeRequest,
    ) -> Result<Request<Full<Bytes>>, TransportError> {
        let (req, config) = req.into_pieces();
        let mut uri = format!("{}v1{}", self.api_base, req.path);
        if let Some(query) = req.query.filter(|q| !q.is_empty()) {
            uri.push('?');
            uri.push_str(&query);
        }
        let method = match req.method {
            StripeMethod::Get => Method::GET,
            StripeMethod::Post => Method::POST,
            StripeMethod::Delete => Method::DELETE,
        };
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(STRIPE_VERSION, stripe_shared::version::VERSION.as_str());
        if let Some(key) = config.request_strategy.as_ref().and_then(|s| s.get_key()) {
            builder = builder.header(IDEMPOTENCY_KEY, key.as_str());
        }
        let body = match req.body {
            Some(body) => {
                builder = builder.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                Bytes::from(body)
            }
            None => Bytes::new(),
        };
        builder
            .body(Full::new(body))
            .map_err(|e| TransportError::Connection(format!("invalid request: {e}")))
    }

    async fn attempt(&self, request: Request<Full<Bytes>>) -> Result<Bytes, TransportError> {
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| TransportError::Connection(error_chain(&e)))?;
        let status = response.status();
        let headers = response.headers();
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let should_retry = headers
            .get("stripe-should-retry")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<bool>().ok());
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| TransportError::Connection(error_chain(&e)))?
            .to_bytes();
        if status.is_success() {
            return Ok(body);
        }
        let error = serde_json::from_slice::<ErrorEnvelope>(&body)
            .ok()
            .map(|e| e.error);
        Err(TransportError::Api {
            status: status.as_u16(),
            error,
            retry_after,
            should_retry,
        })
    }
}

impl stripe_client_core::StripeClient for HttpTransport {
    type Err = TransportError;

    async fn execute(&self, req: CustomizedStripeRequest) -> Result<Bytes, TransportError> {
        let request = self.build_request(req)?;
        tokio::time::timeout(self.timeout, self.attempt(request))
            .await
            .unwrap_or(Err(TransportError::Timeout))
    }
}

/// `Retry-After` in delta-seconds (Stripe never sends the HTTP-date form).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn retry_after_is_read_in_seconds() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn a_base_url_without_scheme_is_refused() {
        let config = StripeConfig::new("localhost", SecretString::from("sk_test_x"));
        assert!(matches!(
            HttpTransport::new(&config),
            Err(ConfigError::InvalidBaseUrl(_))
        ));
        let config = StripeConfig::new("http://127.0.0.1:1", SecretString::from(""));
        assert!(matches!(
            HttpTransport::new(&config),
            Err(ConfigError::InvalidSecretKey)
        ));
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let config = StripeConfig::new(
            "http://127.0.0.1:1",
            SecretString::from("sk_test_secret123"),
        );
        let transport = HttpTransport::new(&config).unwrap();
        assert!(!format!("{transport:?}").contains("secret123"));
        assert!(!format!("{config:?}").contains("secret123"));
    }
}
