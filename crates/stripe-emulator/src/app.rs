//! Shared application state, and the pipeline every `/v1` call goes
//! through: request log → auth → injected faults → idempotency → handler →
//! webhook events.

use crate::error::ApiError;
use crate::idempotency::{KeySeen, Lookup};
use crate::ids::request_id;
use crate::state::{RequestRecord, State};
use crate::webhooks::WebhookHub;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;
use std::sync::{Arc, Mutex, MutexGuard};

pub struct App {
    state: Mutex<State>,
    pub hub: Arc<WebhookHub>,
    /// When set, the only API key accepted; otherwise any `sk_`/`rk_` key.
    secret_key: Option<String>,
}

impl App {
    pub fn new(state: State, hub: Arc<WebhookHub>, secret_key: Option<String>) -> Self {
        Self {
            state: Mutex::new(state),
            hub,
            secret_key,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `change` on the state and hands the events it emitted to the
    /// webhook hub.
    pub fn mutate<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        let (result, events) = {
            let mut state = self.lock();
            let result = change(&mut state);
            (result, std::mem::take(&mut state.outbox))
        };
        self.hub.dispatch(events);
        result
    }

    fn check_auth(&self, req: &HttpRequest) -> Result<(), ApiError> {
        let header = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let Some(key) = header.and_then(api_key) else {
            return Err(ApiError::unauthorized(
                "You did not provide an API key. You need to provide your API key in the Authorization header, \
                 using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            ));
        };
        let accepted = match &self.secret_key {
            Some(expected) => &key == expected,
            None => ["sk_test_", "sk_live_", "rk_test_", "rk_live_"]
                .iter()
                .any(|p| key.starts_with(p)),
        };
        if accepted {
            Ok(())
        } else {
            Err(ApiError::unauthorized(format!(
                "Invalid API Key provided: {}",
                redact(&key)
            )))
        }
    }

    /// Handles one API call; `handler` runs under the state lock.
    pub async fn call(
        &self,
        req: &HttpRequest,
        body: &[u8],
        handler: impl FnOnce(&mut State) -> Result<Value, ApiError>,
    ) -> HttpResponse {
        let method = req.method().as_str().to_owned();
        let path = req.path().to_owned();
        let key = (method == "POST")
            .then(|| {
                req.headers()
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .flatten();
        let mut record = RequestRecord {
            request_id: request_id(),
            method: method.clone(),
            path: path.clone(),
            idempotency_key: key.clone(),
            status: 0,
            replayed: false,
            injected: false,
            at: 0,
        };
        let auth = self.check_auth(req);
        let injected = {
            let mut state = self.lock();
            record.at = state.now();
            if let Some(key) = &key {
                let seen = KeySeen {
                    key: key.clone(),
                    method: method.clone(),
                    path: path.clone(),
                    at: record.at,
                };
                state.idempotency.record(seen);
            }
            if auth.is_ok() {
                state.faults.take(&method, &path)
            } else {
                None
            }
        };
        if let Err(error) = auth {
            return self.finish(record, error.status, error.body(), None);
        }
        if let Some(fault) = injected {
            if !fault.delay.is_zero() {
                tokio::time::sleep(fault.delay).await;
            }
            if let Some(status) = fault.status {
                record.injected = true;
                let error = ApiError::injected(status);
                return self.finish(record, status, error.body(), fault.retry_after);
            }
        }
        let (status, response) = self.mutate(|state| {
            let lookup = match &key {
                Some(key) => state.idempotency.lookup(key, &method, &path, body),
                None => Ok(Lookup::Fresh),
            };
            match lookup {
                Err(error) => (error.status, error.body()),
                Ok(Lookup::Replay { status, body }) => {
                    record.replayed = true;
                    (status, body)
                }
                Ok(Lookup::Fresh) => {
                    // As on Stripe, only a request the endpoint started
                    // executing is saved: not one whose parameters failed
                    // validation (nor, above, an injected fault).
                    let (status, response, executed) = match handler(state) {
                        Ok(value) => (200, value, true),
                        Err(error) => (error.status, error.body(), !error.validation),
                    };
                    if let Some(key) = &key
                        && executed
                    {
                        state
                            .idempotency
                            .save(key, &method, &path, body, status, &response);
                    }
                    (status, response)
                }
            }
        });
        self.finish(record, status, response, None)
    }

    fn finish(
        &self,
        mut record: RequestRecord,
        status: u16,
        body: Value,
        retry_after: Option<u64>,
    ) -> HttpResponse {
        record.status = status;
        let mut response = HttpResponse::build(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        );
        response.insert_header(("request-id", record.request_id.clone()));
        response.insert_header(("stripe-version", crate::API_VERSION));
        if let Some(key) = &record.idempotency_key
            && let Ok(value) = HeaderValue::from_str(key)
        {
            response.insert_header((HeaderName::from_static("idempotency-key"), value));
        }
        if record.replayed {
            response.insert_header(("idempotent-replayed", "true"));
        }
        if let Some(secs) = retry_after {
            response.insert_header(("retry-after", secs.to_string()));
        }
        tracing::info!(
            method = %record.method, path = %record.path, status,
            replayed = record.replayed, injected = record.injected, "api call"
        );
        self.lock().requests.push(record);
        response.json(body)
    }
}

/// The key of an `Authorization` header, as Stripe reads it: `Bearer KEY`,
/// or HTTP Basic with the key as the user name and no password (`curl -u
/// sk_test_…:`, as Stripe's own examples do).
fn api_key(header: &str) -> Option<String> {
    use base64::Engine;
    if let Some(key) = header.strip_prefix("Bearer ") {
        return Some(key.trim().to_owned());
    }
    let encoded = header.strip_prefix("Basic ")?.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let credentials = String::from_utf8(decoded).ok()?;
    let (user, _password) = credentials.split_once(':').unwrap_or((&credentials, ""));
    Some(user.to_owned()).filter(|u| !u.is_empty())
}

/// `sk_test_****abcd`: Stripe's way of echoing a refused key.
fn redact(key: &str) -> String {
    let prefix: String = key.chars().take(8).collect();
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if key.chars().count() <= 12 {
        "****".into()
    } else {
        format!("{prefix}****{tail}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn refused_keys_are_redacted() {
        assert_eq!(super::redact("sk_test_1234567890abcd"), "sk_test_****abcd");
        assert_eq!(super::redact("short"), "****");
    }
}
