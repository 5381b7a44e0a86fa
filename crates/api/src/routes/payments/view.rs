//! The JSON shapes of a payment (seed note §2, `status`).

use domain::OrderStatus;
use domain::i18n::Lang;
use domain::models::payment::Payment;
use domain::queries::payments::PaymentView;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn timestamp(at: OffsetDateTime) -> Value {
    at.format(&Rfc3339).map_or(Value::Null, Value::String)
}

/// The mirror of the Checkout Session, or `null` when there is none.
pub fn stripe_mirror(payment: &Payment) -> Value {
    let Some(session_id) = &payment.stripe_session_id else {
        return Value::Null;
    };
    json!({
        "session_id": session_id,
        "session_status": payment.stripe_session_status,
        "payment_status": payment.stripe_payment_status,
        "expires_at": payment.expires_at.map(OffsetDateTime::unix_timestamp),
        "checkout_url": payment.stripe_checkout_url,
    })
}

/// The seed's `status` shape, also used by the list and detail endpoints.
pub fn payment_json(payment: &Payment, order_status: OrderStatus, lang: Lang) -> Value {
    json!({
        "payment_id": payment.id,
        "order_id": payment.order_id,
        "payment_status": payment.status.as_str(),
        "payment_status_display": payment.status.label(lang),
        "order_status": order_status.as_str(),
        "order_status_display": order_status.label(lang),
        "amount": payment.amount().amount_string(),
        "currency": payment.currency.as_str(),
        "error_message": payment.error_message,
        "created_at": timestamp(payment.created_at),
        "updated_at": timestamp(payment.updated_at),
        "stripe": stripe_mirror(payment),
    })
}

pub fn view_json(view: &PaymentView, lang: Lang) -> Value {
    payment_json(&view.payment, view.order_status, lang)
}
