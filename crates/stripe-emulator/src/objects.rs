//! JSON rendering of the emulator's objects. Each starts from Stripe's own
//! fixture object (copied from stripe/openapi), so every field a client
//! library requires is present, and the fields the emulator models are
//! overwritten with its state.

use crate::state::{Charge, PaymentIntent, Refund, Session, SessionStatus};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::OnceLock;

const FIXTURES: &str = include_str!("../fixtures/stripe-fixtures.json");

fn template(name: &str) -> Value {
    static PARSED: OnceLock<Value> = OnceLock::new();
    let all = PARSED.get_or_init(|| serde_json::from_str(FIXTURES).unwrap_or(Value::Null));
    all["resources"][name].clone()
}

fn set(object: &mut Value, fields: Value) {
    if let (Value::Object(target), Value::Object(fields)) = (object, fields) {
        for (k, v) in fields {
            target.insert(k, v);
        }
    }
}

fn metadata(map: &BTreeMap<String, String>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect::<Map<_, _>>(),
    )
}

/// `expanded_intent` replaces the `payment_intent` id when `expand[]=payment_intent`.
pub fn session(s: &Session, expanded_intent: Option<Value>) -> Value {
    let mut o = template("checkout.session");
    let open = s.status == SessionStatus::Open;
    let customer_details = match (&s.customer_email, s.status) {
        (_, SessionStatus::Complete) => json!({
            "address": {"city": null, "country": "US", "line1": null, "line2": null, "postal_code": "42424", "state": null},
            "email": s.customer_email.clone().unwrap_or_else(|| "customer@example.com".into()),
            "name": "Emulated Customer", "phone": null, "tax_exempt": "none", "tax_ids": [],
            "business_name": null, "individual_name": null
        }),
        _ => Value::Null,
    };
    let payment_intent = match (expanded_intent, &s.payment_intent) {
        (Some(expanded), _) => expanded,
        (None, Some(id)) => json!(id),
        (None, None) => Value::Null,
    };
    set(
        &mut o,
        json!({
            "id": s.id,
            "created": s.created,
            "expires_at": s.expires_at,
            "status": s.status.as_str(),
            "payment_status": s.payment_status.as_str(),
            "payment_intent": payment_intent,
            "url": if open { json!(s.url) } else { Value::Null },
            "success_url": s.success_url,
            "cancel_url": s.cancel_url,
            "client_reference_id": s.client_reference_id,
            "customer_email": s.customer_email,
            "customer_details": customer_details,
            "metadata": metadata(&s.metadata),
            "mode": "payment",
            "currency": s.currency,
            "amount_subtotal": s.amount_total,
            "amount_total": s.amount_total,
            "livemode": false,
            "after_expiration": null,
            "shipping_address_collection": null,
            "shipping_cost": null,
            "shipping_options": [],
            "collected_information": null,
            "currency_conversion": null,
            "invoice_creation": null,
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        }),
    );
    o
}

pub fn payment_intent(pi: &PaymentIntent) -> Value {
    let mut o = template("payment_intent");
    let last_payment_error = match &pi.last_payment_error {
        Some(e) => json!({
            "type": "card_error",
            "code": e.code,
            "decline_code": e.decline_code,
            "message": e.message,
            "doc_url": format!("https://stripe.com/docs/error-codes/{}", e.code.replace('_', "-")),
        }),
        None => Value::Null,
    };
    set(
        &mut o,
        json!({
            "id": pi.id,
            "created": pi.created,
            "amount": pi.amount,
            "amount_capturable": 0,
            "amount_received": if pi.status == "succeeded" { pi.amount } else { 0 },
            "currency": pi.currency,
            "status": pi.status,
            "metadata": metadata(&pi.metadata),
            "last_payment_error": last_payment_error,
            "latest_charge": pi.latest_charge,
            "canceled_at": pi.canceled_at,
            "cancellation_reason": pi.cancellation_reason,
            "client_secret": format!("{}_secret_emulated", pi.id),
            "livemode": false,
            "next_action": null,
            "processing": null,
            "shipping": null,
            "transfer_data": null,
        }),
    );
    o
}

pub fn charge(c: &Charge, refunds: Vec<Value>) -> Value {
    let mut o = template("charge");
    set(
        &mut o,
        json!({
            "id": c.id,
            "created": c.created,
            "amount": c.amount,
            "amount_captured": c.amount,
            "amount_refunded": c.amount_refunded,
            "captured": true,
            "currency": c.currency,
            "payment_intent": c.payment_intent,
            "metadata": metadata(&c.metadata),
            "paid": true,
            "refunded": c.amount_refunded >= c.amount,
            "status": "succeeded",
            "description": null,
            "livemode": false,
            "receipt_url": null,
            "refunds": {"object": "list", "data": refunds, "has_more": false,
                         "url": format!("/v1/charges/{}/refunds", c.id)},
            "source": null,
            "transfer_data": null,
        }),
    );
    o
}

pub fn refund(r: &Refund) -> Value {
    let mut o = template("refund");
    set(
        &mut o,
        json!({
            "id": r.id,
            "created": r.created,
            "amount": r.amount,
            "currency": r.currency,
            "charge": r.charge,
            "payment_intent": r.payment_intent,
            "status": "succeeded",
            "reason": r.reason,
            "metadata": metadata(&r.metadata),
        }),
    );
    o
}

/// An `event` envelope around `object`.
pub fn event(id: &str, type_: &str, created: i64, object: Value) -> Value {
    let mut o = template("event");
    set(
        &mut o,
        json!({
            "id": id,
            "type": type_,
            "created": created,
            "api_version": crate::API_VERSION,
            "data": {"object": object},
            "livemode": false,
            "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null},
        }),
    );
    o
}

pub fn list(url: &str, data: Vec<Value>, has_more: bool) -> Value {
    json!({"object": "list", "url": url, "has_more": has_more, "data": data})
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_fixture_template_is_present() {
        for name in [
            "checkout.session",
            "payment_intent",
            "charge",
            "refund",
            "event",
        ] {
            assert!(super::template(name).is_object(), "{name}");
        }
    }
}
