//! `Idempotency-Key` handling, as Stripe documents it: the first response to
//! a key is saved; the same key with the same request replays it; the same
//! key with different parameters is a 400 `idempotency_error`. Only a request
//! the endpoint started executing is saved (the caller decides; see
//! `App::call`). Every key seen is recorded so tests can assert which keys a
//! client sent.
//!
//! "The same parameters" means the same decoded form parameters, whatever
//! their order or percent-encoding: `a=1&b=2` and `b=2&a=1` match, and so do
//! `line_items[0][quantity]=1` and `line_items%5B0%5D%5Bquantity%5D=1`.

use crate::error::ApiError;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, Clone)]
struct Saved {
    fingerprint: Fingerprint,
    status: u16,
    body: Value,
}

/// What two requests under one key must share: method, path and the decoded
/// form parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    method: String,
    path: String,
    params: Vec<(String, String)>,
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

fn fingerprint(method: &str, path: &str, body: &[u8]) -> Fingerprint {
    Fingerprint {
        method: method.to_owned(),
        path: path.to_owned(),
        params: form_params(body),
    }
}

/// The `(key, value)` pairs of a form body, decoded as forms are (`+` is a
/// space), sorted by key. The sort is stable, so repeated keys (`expand[]=a
/// &expand[]=b`, where the order makes the list) keep their order.
fn form_params(body: &[u8]) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> =
        url::form_urlencoded::parse(body).into_owned().collect();
    params.sort_by(|a, b| a.0.cmp(&b.0));
    params
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

    #[test]
    fn parameters_are_compared_decoded_and_in_any_order() {
        let mut store = IdempotencyStore::default();
        let body = b"line_items[0][quantity]=1&metadata[note]=a%20b&mode=payment";
        store.save("k", "POST", "/v1/x", body, 200, &json!({"id": "x"}));
        for same in [
            &b"mode=payment&metadata[note]=a+b&line_items[0][quantity]=1"[..],
            b"line_items%5B0%5D%5Bquantity%5D=1&metadata%5bnote%5d=a%20b&mode=payment&",
            b"metadata[note]=a%20b&&mode=%70ayment&line_items[0][quantity]=1",
        ] {
            assert!(
                matches!(
                    store.lookup("k", "POST", "/v1/x", same),
                    Ok(Lookup::Replay { .. })
                ),
                "{}",
                String::from_utf8_lossy(same)
            );
        }
        for different in [
            &b"line_items[0][quantity]=2&metadata[note]=a%20b&mode=payment"[..],
            b"line_items[0][quantity]=1&metadata[note]=a%2Bb&mode=payment",
            b"line_items[0][quantity]=1&mode=payment",
            b"line_items[0][quantity]=1&metadata[note]=a%20b&mode=payment&expand[]=x",
        ] {
            assert!(
                store.lookup("k", "POST", "/v1/x", different).is_err(),
                "{}",
                String::from_utf8_lossy(different)
            );
        }
        assert!(
            store.lookup("k", "POST", "/v1/y", body).is_err(),
            "another path"
        );
    }

    #[test]
    fn repeated_keys_keep_their_order() {
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(
            form_params(b"expand[]=b&a=1&expand[]=a"),
            vec![pair("a", "1"), pair("expand[]", "b"), pair("expand[]", "a")]
        );
        assert_eq!(
            form_params(b"k=100%+%4x%41%"),
            vec![pair("k", "100% %4xA%")]
        );
    }
}
