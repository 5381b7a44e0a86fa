//! `Idempotency-Key` handling, as Stripe documents it: the first response to
//! a key is saved; the same key with the same request replays it; the same
//! key with different parameters is a 400 `idempotency_error`. Every key
//! seen is recorded so tests can assert which keys a client sent.

use crate::error::ApiError;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, Clone)]
struct Saved {
    fingerprint: String,
    status: u16,
    body: Value,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeySeen {
    pub key: String,
    pub method: String,
    pub path: String,
    /// Emulator clock, unix seconds.
    pub at: i64,
}

#[derive(Debug, Default)]
pub struct IdempotencyStore {
    saved: HashMap<String, Saved>,
    seen: Vec<KeySeen>,
}

/// What to do with a request that carries a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// First use: run it, then [`IdempotencyStore::save`].
    Fresh,
    /// Seen with the same request: send this again.
    Replay { status: u16, body: Value },
}

fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    format!("{method} {path}\n{}", String::from_utf8_lossy(body))
}

impl IdempotencyStore {
    pub fn record(&mut self, seen: KeySeen) {
        self.seen.push(seen);
    }

    pub fn seen(&self) -> &[KeySeen] {
        &self.seen
    }

    pub fn lookup(
        &self,
        key: &str,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Lookup, ApiError> {
        match self.saved.get(key) {
            None => Ok(Lookup::Fresh),
            Some(saved) if saved.fingerprint == fingerprint(method, path, body) => {
                Ok(Lookup::Replay {
                    status: saved.status,
                    body: saved.body.clone(),
                })
            }
            Some(_) => Err(ApiError::idempotency_mismatch(key)),
        }
    }

    pub fn save(
        &mut self,
        key: &str,
        method: &str,
        path: &str,
        body: &[u8],
        status: u16,
        response: &Value,
    ) {
        self.saved.insert(
            key.to_owned(),
            Saved {
                fingerprint: fingerprint(method, path, body),
                status,
                body: response.clone(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_key_same_request_replays_and_different_params_conflict() {
        let mut store = IdempotencyStore::default();
        assert_eq!(
            store.lookup("k", "POST", "/v1/refunds", b"a=1").unwrap(),
            Lookup::Fresh
        );
        store.save(
            "k",
            "POST",
            "/v1/refunds",
            b"a=1",
            200,
            &json!({"id": "re_1"}),
        );
        assert_eq!(
            store.lookup("k", "POST", "/v1/refunds", b"a=1").unwrap(),
            Lookup::Replay {
                status: 200,
                body: json!({"id": "re_1"})
            }
        );
        let conflict = store
            .lookup("k", "POST", "/v1/refunds", b"a=2")
            .unwrap_err();
        assert_eq!(conflict.type_, "idempotency_error");
        assert_eq!(conflict.status, 400);
    }
}
