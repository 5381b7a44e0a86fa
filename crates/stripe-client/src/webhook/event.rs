//! Raw event JSON → [`StripeEvent`].
//!
//! The objects of the six event types we act on are read with async-stripe's
//! types. Webhook events are rendered in the *account's* API version, which
//! may differ from the version async-stripe pins; if the typed read fails we
//! fall back to reading only the handful of fields the service needs, so an
//! authentic event is never dropped over an unrelated field.

use super::WebhookError;
use crate::convert::{self, payment_id_from_metadata};
use domain::events::{RefundedCharge, StripeEvent, StripeEventKind};
use domain::gateway::{CheckoutSession, SessionPaymentStatus, SessionStatus};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    type_: String,
    created: i64,
    data: EnvelopeData,
}

#[derive(Deserialize)]
struct EnvelopeData {
    object: Value,
}

/// Parses an event payload; no signature check (see [`super::verify`]).
pub fn parse_event(payload: &[u8]) -> Result<StripeEvent, WebhookError> {
    let envelope: Envelope =
        serde_json::from_slice(payload).map_err(|e| WebhookError::Parse(e.to_string()))?;
    let object = &envelope.data.object;
    let kind = match envelope.type_.as_str() {
        "checkout.session.completed" => StripeEventKind::SessionCompleted(session(object)?),
        "checkout.session.async_payment_succeeded" => {
            StripeEventKind::SessionAsyncPaymentSucceeded(session(object)?)
        }
        "checkout.session.async_payment_failed" => {
            StripeEventKind::SessionAsyncPaymentFailed(session(object)?)
        }
        "checkout.session.expired" => StripeEventKind::SessionExpired(session(object)?),
        "payment_intent.payment_failed" => {
            let intent = intent(object)?;
            StripeEventKind::PaymentIntentFailed {
                payment_intent_id: intent.id,
                payment_id: intent.payment_id,
                error_message: intent.error_message,
            }
        }
        "payment_intent.canceled" => {
            let intent = intent(object)?;
            StripeEventKind::PaymentIntentCanceled {
                payment_intent_id: intent.id,
                payment_id: intent.payment_id,
            }
        }
        "charge.refunded" => charge_refunded(object)?,
        _ => StripeEventKind::Ignored,
    };
    Ok(StripeEvent {
        id: envelope.id,
        event_type: envelope.type_,
        created: convert::timestamp(envelope.created),
        kind,
    })
}

fn typed<T: miniserde::Deserialize>(object: &Value) -> Option<T> {
    miniserde::json::from_str(&object.to_string()).ok()
}

fn fallback<T: for<'de> Deserialize<'de>>(object: &Value, what: &str) -> Result<T, WebhookError> {
    tracing::warn!(
        object = what,
        "event object did not match async-stripe's type; reading the needed fields only"
    );
    T::deserialize(object).map_err(|e| WebhookError::Parse(format!("{what}: {e}")))
}

/// An id field that may be expanded into an object.
#[derive(Deserialize)]
#[serde(untagged)]
enum IdOrObject {
    Id(String),
    Object { id: String },
}

impl IdOrObject {
    fn into_id(self) -> String {
        match self {
            IdOrObject::Id(id) | IdOrObject::Object { id } => id,
        }
    }
}

#[derive(Deserialize)]
struct MinimalSession {
    id: String,
    status: Option<String>,
    payment_status: String,
    payment_intent: Option<IdOrObject>,
    /// Stripe always sends it; a trimmed payload without it (the shared
    /// load generator's `checkout.session.expired`) is still accepted: the
    /// expiry handler re-reads the session from Stripe before acting, and
    /// the payment's stored expiry is left as it is (were the time of
    /// reading to stand in, the sweep would take a live session for an
    /// expired one).
    #[serde(default)]
    expires_at: Option<i64>,
    url: Option<String>,
    client_reference_id: Option<String>,
    #[serde(default)]
    metadata: Option<HashMap<String, String>>,
}

fn session(object: &Value) -> Result<CheckoutSession, WebhookError> {
    if let Some(session) = typed::<stripe_shared::CheckoutSession>(object) {
        return Ok(convert::checkout_session(&session));
    }
    let s: MinimalSession = fallback(object, "checkout.session")?;
    let payment_id = s
        .metadata
        .as_ref()
        .and_then(payment_id_from_metadata)
        .or_else(|| {
            s.client_reference_id
                .as_deref()
                .and_then(|r| r.parse().ok())
        });
    Ok(CheckoutSession {
        id: s.id,
        status: SessionStatus::parse(s.status.as_deref().unwrap_or_default()),
        payment_status: SessionPaymentStatus::parse(&s.payment_status),
        payment_intent_id: s.payment_intent.map(IdOrObject::into_id),
        expires_at: s.expires_at.map(convert::timestamp),
        url: s.url,
        payment_id,
    })
}

struct IntentFacts {
    id: String,
    payment_id: Option<domain::values::ids::PaymentId>,
    error_message: Option<String>,
}

#[derive(Deserialize)]
struct MinimalIntent {
    id: String,
    #[serde(default)]
    metadata: HashMap<String, String>,
    last_payment_error: Option<MinimalError>,
}

#[derive(Deserialize)]
struct MinimalError {
    message: Option<String>,
}

fn intent(object: &Value) -> Result<IntentFacts, WebhookError> {
    if let Some(intent) = typed::<stripe_shared::PaymentIntent>(object) {
        return Ok(IntentFacts {
            id: intent.id.as_str().to_owned(),
            payment_id: payment_id_from_metadata(&intent.metadata),
            error_message: intent.last_payment_error.and_then(|e| e.message),
        });
    }
    let i: MinimalIntent = fallback(object, "payment_intent")?;
    Ok(IntentFacts {
        id: i.id,
        payment_id: payment_id_from_metadata(&i.metadata),
        error_message: i.last_payment_error.and_then(|e| e.message),
    })
}

#[derive(Deserialize)]
struct MinimalCharge {
    payment_intent: Option<IdOrObject>,
    amount: i64,
    amount_refunded: i64,
    /// Missing, the amounts still tell a full refund from a partial one.
    #[serde(default)]
    refunded: bool,
}

fn charge_refunded(object: &Value) -> Result<StripeEventKind, WebhookError> {
    if let Some(charge) = typed::<stripe_shared::Charge>(object) {
        return Ok(StripeEventKind::ChargeRefunded(RefundedCharge {
            payment_intent_id: charge
                .payment_intent
                .as_ref()
                .map(|pi| pi.id().as_str().to_owned()),
            amount_minor: charge.amount,
            amount_refunded_minor: charge.amount_refunded,
            refunded: charge.refunded,
        }));
    }
    let c: MinimalCharge = fallback(object, "charge")?;
    Ok(StripeEventKind::ChargeRefunded(RefundedCharge {
        payment_intent_id: c.payment_intent.map(IdOrObject::into_id),
        amount_minor: c.amount,
        amount_refunded_minor: c.amount_refunded,
        refunded: c.refunded,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(type_: &str, object: Value) -> Vec<u8> {
        json!({"id": "evt_1", "object": "event", "type": type_, "created": 1_700_000_000,
               "data": {"object": object}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn unknown_types_are_ignored() {
        let parsed = parse_event(&event("customer.created", json!({"id": "cus_1"}))).unwrap();
        assert_eq!(parsed.kind, StripeEventKind::Ignored);
        assert_eq!(parsed.id, "evt_1");
        assert_eq!(parsed.event_type, "customer.created");
    }

    #[test]
    fn a_minimal_session_object_is_read_by_the_fallback() {
        let payment = domain::values::ids::PaymentId::new();
        let object = json!({"id": "cs_1", "object": "checkout.session", "status": "expired",
            "payment_status": "unpaid", "payment_intent": null, "expires_at": 1_700_000_000,
            "url": null, "client_reference_id": null, "metadata": {"payment_id": payment.to_string()}});
        let parsed = parse_event(&event("checkout.session.expired", object)).unwrap();
        let StripeEventKind::SessionExpired(session) = parsed.kind else {
            panic!("{parsed:?}")
        };
        assert_eq!(session.status, SessionStatus::Expired);
        assert_eq!(session.payment_id, Some(payment));
    }

    #[test]
    fn an_expired_event_without_expires_at_is_still_read() {
        // The shape the shared load generator (bench.py) signs and posts.
        let object = json!({"id": "cs_2", "object": "checkout.session", "status": "expired",
            "payment_status": "unpaid", "mode": "payment", "metadata": {"payment_id": "x"}});
        let parsed = parse_event(&event("checkout.session.expired", object)).unwrap();
        let StripeEventKind::SessionExpired(session) = parsed.kind else {
            panic!("{parsed:?}")
        };
        assert_eq!(session.id, "cs_2");
        assert_eq!(session.status, SessionStatus::Expired);
        assert_eq!(session.expires_at, None, "unknown, not made up");
    }

    #[test]
    fn a_minimal_charge_tells_a_partial_refund_from_a_full_one() {
        let object = json!({"id": "ch_1", "object": "charge", "payment_intent": "pi_1",
            "amount": 3000, "amount_refunded": 1000});
        let parsed = parse_event(&event("charge.refunded", object)).unwrap();
        let StripeEventKind::ChargeRefunded(charge) = parsed.kind else {
            panic!("{parsed:?}")
        };
        assert_eq!(charge.payment_intent_id.as_deref(), Some("pi_1"));
        assert_eq!(
            (charge.amount_minor, charge.amount_refunded_minor),
            (3000, 1000)
        );
        assert!(!charge.is_full());
    }

    #[test]
    fn garbage_is_a_parse_error() {
        assert!(matches!(
            parse_event(b"not json"),
            Err(WebhookError::Parse(_))
        ));
        let bad = event("charge.refunded", json!({"id": "ch_1"}));
        assert!(matches!(parse_event(&bad), Err(WebhookError::Parse(_))));
    }
}

/// The domain's [`domain::services::EventParser`] over [`parse_event`]: how
/// the worker and the sweep read payloads stored (already verified) by the API.
#[derive(Debug, Clone, Copy, Default)]
pub struct StripeEventParser;

impl domain::services::EventParser for StripeEventParser {
    fn parse(&self, payload: &[u8]) -> Result<domain::events::StripeEvent, String> {
        parse_event(payload).map_err(|e| e.to_string())
    }
}
