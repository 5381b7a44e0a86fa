//! The API as its callers see it: a customer or staff member with an API
//! token (no cookies, no CSRF), and Stripe posting signed webhooks.

use serde_json::{Value, json};
use std::time::Duration;

/// One HTTP answer: its status and JSON body (`Null` when empty, a JSON
/// string holding the text when not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn str(&self, field: &str) -> Option<&str> {
        self.body.get(field)?.as_str()
    }
}

/// Why a request got no answer at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NoAnswer {
    /// Nothing came back within the client's timeout.
    Timeout,
    /// The connection was refused or reset.
    Connect,
    /// Anything else reqwest reports (body read, protocol).
    Other,
}

impl NoAnswer {
    fn of(e: &reqwest::Error) -> Self {
        // The kind alone is kept; the error's text goes to stderr so an
        // unclassified failure can still be diagnosed.
        if e.is_timeout() {
            NoAnswer::Timeout
        } else if e.is_connect() {
            NoAnswer::Connect
        } else {
            eprintln!("api client: request failed: {e:?}");
            NoAnswer::Other
        }
    }
}

#[derive(Clone)]
pub struct ApiClient {
    base: String,
    http: reqwest::Client,
}

impl ApiClient {
    /// `timeout` bounds every request: a hang becomes [`NoAnswer::Timeout`].
    pub fn new(base: impl Into<String>, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client without TLS builds");
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            http,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, NoAnswer> {
        let response = request.send().await.map_err(|e| NoAnswer::of(&e))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| NoAnswer::of(&e))?;
        // A body that is not JSON is kept as text (the report shows it).
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            if bytes.is_empty() {
                Value::Null
            } else {
                Value::String(String::from_utf8_lossy(&bytes).into_owned())
            }
        });
        Ok(Reply { status, body })
    }

    fn post(&self, token: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Token {token}"))
    }

    /// `POST /api/payments/checkout/` for `quantity` units of `product`.
    pub async fn checkout(
        &self,
        token: &str,
        product: i64,
        quantity: i64,
        coupon: Option<&str>,
    ) -> Result<Reply, NoAnswer> {
        let mut body = json!({ "items": [{ "product_id": product, "quantity": quantity }] });
        if let Some(code) = coupon {
            body["coupon_code"] = json!(code);
        }
        self.send(self.post(token, "/api/payments/checkout/").json(&body))
            .await
    }

    /// `POST /api/payments/{id}/cancel/`.
    pub async fn cancel(&self, token: &str, payment_id: &str) -> Result<Reply, NoAnswer> {
        self.send(self.post(token, &format!("/api/payments/{payment_id}/cancel/")))
            .await
    }

    /// `POST /api/payments/check_expired_sessions/` (staff): a one-off sweep.
    pub async fn check_expired_sessions(&self, token: &str) -> Result<Reply, NoAnswer> {
        self.send(self.post(token, "/api/payments/check_expired_sessions/"))
            .await
    }

    /// `GET /api/payments/task_status/?task_id=`.
    pub async fn task_status(&self, token: &str, task_id: &str) -> Result<Reply, NoAnswer> {
        let request = self
            .http
            .get(format!(
                "{}/api/payments/task_status/?task_id={task_id}",
                self.base
            ))
            .header("Authorization", format!("Token {token}"));
        self.send(request).await
    }

    /// Posts `event` to the webhook endpoint as Stripe would, signed now.
    pub async fn webhook(&self, event: &Value, secret: &str) -> Result<Reply, NoAnswer> {
        let body = serde_json::to_vec(event).expect("an event serialises");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let signature = stripe_client::webhook::sign(&body, secret, now);
        let request = self
            .http
            .post(format!("{}/api/payments/webhook/", self.base))
            .header("Content-Type", "application/json")
            .header("Stripe-Signature", signature)
            .body(body);
        self.send(request).await
    }

    /// `GET /readyz` answered 200.
    pub async fn ready(&self) -> bool {
        self.send(self.http.get(format!("{}/readyz", self.base)))
            .await
            .is_ok_and(|r| r.status == 200)
    }
}
