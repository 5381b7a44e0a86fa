//! Signed webhook delivery. Each event is POSTed to every configured URL
//! with a real `Stripe-Signature`; a non-2xx answer or a connection error is
//! retried with exponential backoff up to a bounded number of attempts.
//!
//! First attempts go out one event at a time, in order, so that the
//! misbehaviour modes are observable: `duplicate` sends each event twice,
//! `reorder` holds a batch and sends it in reverse, `drop` skips the next N
//! events. Retries run in the background and never block later events.

use crate::clock::wall_clock;
use crate::signature::sign;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Clone)]
pub struct DeliveryConfig {
    pub secret: String,
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Budget of one delivery attempt.
    pub timeout: Duration,
}

impl std::fmt::Debug for DeliveryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryConfig")
            .field("secret", &"[REDACTED]")
            .field("max_attempts", &self.max_attempts)
            .field("base_backoff", &self.base_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Misbehaviour, set through `/_emulator/webhooks/mode`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mode {
    /// Deliver every event twice.
    #[serde(default)]
    pub duplicate: bool,
    /// Hold events until this many are waiting, then deliver them newest
    /// first. `None` or 0: deliver at once.
    #[serde(default)]
    pub reorder_batch: Option<usize>,
    /// Skip delivery of the next N events.
    #[serde(default)]
    pub drop_next: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub event_id: String,
    pub event_type: String,
    pub url: String,
    /// 1-based; 0 for a dropped event.
    pub attempt: u32,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub delivered: bool,
    pub dropped: bool,
}

#[derive(Debug, Default)]
struct Inner {
    urls: Vec<String>,
    mode: Mode,
    held: Vec<Value>,
    records: Vec<DeliveryRecord>,
}

/// Shared between the API (which enqueues events), the control endpoints
/// and the delivery task.
#[derive(Debug)]
pub struct WebhookHub {
    config: DeliveryConfig,
    inner: Mutex<Inner>,
    client: reqwest::Client,
    queue: mpsc::UnboundedSender<Value>,
}

fn event_field(event: &Value, field: &str) -> String {
    event[field].as_str().unwrap_or_default().to_owned()
}

impl WebhookHub {
    /// Creates the hub and starts its delivery task on the current runtime.
    pub fn start(config: DeliveryConfig, urls: Vec<String>) -> Arc<Self> {
        let (queue, mut rx) = mpsc::unbounded_channel::<Value>();
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .unwrap_or_default();
        let hub = Arc::new(Self {
            config,
            inner: Mutex::new(Inner {
                urls,
                ..Inner::default()
            }),
            client,
            queue,
        });
        let worker = Arc::downgrade(&hub);
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let Some(hub) = worker.upgrade() else { break };
                hub.deliver_first(event).await;
            }
        });
        hub
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn urls(&self) -> Vec<String> {
        self.lock().urls.clone()
    }

    pub fn add_url(&self, url: String) {
        let mut inner = self.lock();
        if !inner.urls.contains(&url) {
            inner.urls.push(url);
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        self.lock().mode = mode;
    }

    pub fn mode(&self) -> Mode {
        self.lock().mode.clone()
    }

    pub fn records(&self) -> Vec<DeliveryRecord> {
        self.lock().records.clone()
    }

    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.mode = Mode::default();
        inner.held.clear();
        inner.records.clear();
    }

    /// Applies the mode to new events and queues what is to be sent.
    pub fn dispatch(&self, events: Vec<Value>) {
        let mut to_send = Vec::new();
        {
            let mut inner = self.lock();
            for event in events {
                if inner.mode.drop_next > 0 {
                    inner.mode.drop_next -= 1;
                    let urls = inner.urls.clone();
                    for url in urls {
                        inner.records.push(DeliveryRecord {
                            event_id: event_field(&event, "id"),
                            event_type: event_field(&event, "type"),
                            url,
                            attempt: 0,
                            status: None,
                            error: Some("dropped by the emulator".into()),
                            delivered: false,
                            dropped: true,
                        });
                    }
                    continue;
                }
                match inner.mode.reorder_batch.filter(|n| *n > 0) {
                    Some(batch) => {
                        inner.held.push(event);
                        if inner.held.len() >= batch {
                            to_send.extend(inner.held.drain(..).rev());
                        }
                    }
                    None => to_send.push(event),
                }
            }
            if inner.mode.duplicate {
                to_send = to_send.into_iter().flat_map(|e| [e.clone(), e]).collect();
            }
        }
        for event in to_send {
            // The receiver lives as long as the hub.
            let _ = self.queue.send(event);
        }
    }

    /// Sends held (reordered) events now, newest first.
    pub fn flush_held(&self) -> usize {
        let held: Vec<Value> = {
            let mut inner = self.lock();
            let duplicate = inner.mode.duplicate;
            let held: Vec<Value> = inner.held.drain(..).rev().collect();
            if duplicate {
                held.into_iter().flat_map(|e| [e.clone(), e]).collect()
            } else {
                held
            }
        };
        let count = held.len();
        for event in held {
            let _ = self.queue.send(event);
        }
        count
    }

    async fn deliver_first(self: Arc<Self>, event: Value) {
        let payload = Arc::new(event.to_string());
        for url in self.urls() {
            if !self.attempt(&event, &payload, &url, 1).await {
                let hub = Arc::clone(&self);
                let event = event.clone();
                let payload = Arc::clone(&payload);
                tokio::spawn(async move { hub.retry(event, payload, url).await });
            }
        }
    }

    async fn retry(self: Arc<Self>, event: Value, payload: Arc<String>, url: String) {
        for attempt in 2..=self.config.max_attempts {
            let exponent = (attempt - 2).min(16);
            let delay = self
                .config
                .base_backoff
                .saturating_mul(1 << exponent)
                .min(self.config.max_backoff);
            tokio::time::sleep(delay).await;
            if self.attempt(&event, &payload, &url, attempt).await {
                return;
            }
        }
        tracing::warn!(event_id = %event_field(&event, "id"), %url, "webhook delivery gave up");
    }

    /// One POST; records it and returns whether it was accepted (2xx).
    async fn attempt(&self, event: &Value, payload: &str, url: &str, attempt: u32) -> bool {
        let signature = sign(payload.as_bytes(), &self.config.secret, wall_clock());
        let result = self
            .client
            .post(url)
            .header("content-type", "application/json; charset=utf-8")
            .header("stripe-signature", signature)
            .header(
                "user-agent",
                "Stripe/1.0 (+https://stripe.com/docs/webhooks) stripe-emulator",
            )
            .body(payload.to_owned())
            .send()
            .await;
        let (status, error) = match result {
            Ok(response) => (Some(response.status().as_u16()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let delivered = status.is_some_and(|s| (200..300).contains(&s));
        tracing::debug!(event_id = %event_field(event, "id"), url, attempt, ?status, delivered, "webhook attempt");
        self.lock().records.push(DeliveryRecord {
            event_id: event_field(event, "id"),
            event_type: event_field(event, "type"),
            url: url.to_owned(),
            attempt,
            status,
            error,
            delivered,
            dropped: false,
        });
        delivered
    }
}
