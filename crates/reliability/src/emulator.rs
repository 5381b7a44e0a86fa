//! The Stripe emulator's control endpoints (`/_emulator/*`, see
//! docs/stripe-emulator.md) over HTTP, so the in-process emulator of the
//! model tests and the binary of the chaos run are driven the same way;
//! plus the dashboard actions a Stripe user takes (a refund).

use serde_json::{Value, json};
use std::time::Duration;

#[derive(Clone)]
pub struct EmulatorControl {
    base: String,
    http: reqwest::Client,
}

/// What Stripe's side of a payment looks like, read from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StripeFacts {
    /// `charge.refunded` events by payment intent.
    pub refunded_intents: std::collections::BTreeSet<String>,
}

impl EmulatorControl {
    pub fn new(base: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            // Shorter than actix's keep-alive (5 s), so a pooled connection
            // is never one the server is closing at that moment.
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .expect("a reqwest client without TLS builds");
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            http,
        }
    }

    /// Sends, retrying twice when the connection fails before an answer
    /// (the emulator is busy during a chaos run; the controls are not
    /// what is under test).
    async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> anyhow::Result<reqwest::Response> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match build().send().await {
                Ok(response) => return Ok(response),
                Err(e) if attempt < 3 && (e.is_connect() || e.is_request()) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        let url = format!("{}/_emulator{path}", self.base);
        let response = self.send(|| self.http.post(&url).json(&body)).await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let url = format!("{}/_emulator{path}", self.base);
        Ok(self
            .send(|| self.http.get(&url))
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// The customer pays (or the card is declined) on the hosted page.
    /// `Ok(false)`: the session was no longer open.
    pub async fn pay(&self, session_id: &str, succeed: bool) -> anyhow::Result<bool> {
        let outcome = if succeed { "paid" } else { "failed" };
        let (status, body) = self
            .post(
                &format!("/sessions/{session_id}/pay"),
                json!({ "outcome": outcome }),
            )
            .await?;
        match status {
            200 => Ok(true),
            400 => Ok(false),
            other => anyhow::bail!("emulator pay answered {other}: {body}"),
        }
    }

    /// Stripe expires the session now. `Ok(false)`: it was not open.
    pub async fn expire(&self, session_id: &str) -> anyhow::Result<bool> {
        let (status, body) = self
            .post(&format!("/sessions/{session_id}/expire"), json!({}))
            .await?;
        match status {
            200 => Ok(true),
            400 => Ok(false),
            other => anyhow::bail!("emulator expire answered {other}: {body}"),
        }
    }

    /// `/_emulator/webhooks/mode`: duplicate, reorder (hold N, deliver
    /// newest first) and drop the next N deliveries.
    pub async fn set_webhook_mode(
        &self,
        duplicate: bool,
        reorder_batch: Option<usize>,
        drop_next: u32,
    ) -> anyhow::Result<()> {
        let body = json!({ "duplicate": duplicate, "reorder_batch": reorder_batch, "drop_next": drop_next });
        self.post("/webhooks/mode", body).await.map(drop)
    }

    /// Delivers the events held for reordering now.
    pub async fn flush_webhooks(&self) -> anyhow::Result<()> {
        self.post("/webhooks/flush", json!({})).await.map(drop)
    }

    pub async fn add_webhook_endpoint(&self, url: &str) -> anyhow::Result<()> {
        self.post("/webhooks/endpoints", json!({ "url": url }))
            .await
            .map(drop)
    }

    /// Queues a fault (`{"count","status","retry_after","delay_ms",...}`).
    pub async fn add_fault(&self, fault: Value) -> anyhow::Result<()> {
        self.post("/faults", fault).await.map(drop)
    }

    pub async fn clear_faults(&self) -> anyhow::Result<()> {
        let url = format!("{}/_emulator/faults", self.base);
        self.send(|| self.http.delete(&url)).await?;
        Ok(())
    }

    /// Every event emitted, oldest first.
    pub async fn events(&self) -> anyhow::Result<Vec<Value>> {
        Ok(serde_json::from_value(self.get("/events").await?)?)
    }

    /// The events about one Checkout Session and its payment intent
    /// (charges and refunds included), oldest first.
    pub async fn events_of(&self, session_id: &str) -> anyhow::Result<Vec<Value>> {
        let path = format!("/events?session={session_id}");
        Ok(serde_json::from_value(self.get(&path).await?)?)
    }

    /// Every webhook delivery attempt.
    pub async fn deliveries(&self) -> anyhow::Result<Vec<Value>> {
        Ok(serde_json::from_value(
            self.get("/webhooks/deliveries").await?,
        )?)
    }

    pub async fn healthy(&self) -> bool {
        self.get("/health").await.is_ok()
    }

    /// A refund made in Stripe's dashboard (not by the service): full
    /// amount, no idempotency key. `Ok(false)`: nothing to refund.
    pub async fn dashboard_refund(&self, payment_intent: &str) -> anyhow::Result<bool> {
        let response = self
            .http
            .post(format!("{}/v1/refunds", self.base))
            .bearer_auth("sk_test_dashboard")
            // Stripe ids are [A-Za-z0-9_]: nothing to percent-encode.
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("payment_intent={payment_intent}"))
            .send()
            .await?;
        match response.status().as_u16() {
            200 => Ok(true),
            400 => Ok(false),
            other => anyhow::bail!("refund answered {other}"),
        }
    }

    /// Facts about Stripe's side the checks need.
    pub async fn facts(&self) -> anyhow::Result<StripeFacts> {
        let mut facts = StripeFacts::default();
        for event in self.events().await? {
            if event["type"] == "charge.refunded"
                && let Some(intent) = event["data"]["object"]["payment_intent"].as_str()
            {
                facts.refunded_intents.insert(intent.to_owned());
            }
        }
        Ok(facts)
    }
}
