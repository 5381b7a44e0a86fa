//! The JSON shapes of a payment (seed note §2, `status`).

use domain::OrderStatus;
use domain::i18n::Lang;
use domain::models::payment::Payment;
use domain::queries::payments::PaymentView;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use uuid::Uuid;

pub fn timestamp(at: OffsetDateTime) -> Value {
    at.format(&Rfc3339).map_or(Value::Null, Value::String)
}

/// The mirror of the payment's Stripe Checkout Session.
#[derive(Debug, Serialize, ToSchema)]
pub struct StripeMirror {
    #[schema(example = "cs_test_a1b2")]
    pub session_id: String,
    /// `open`, `complete` or `expired`.
    pub session_status: Option<String>,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: Option<String>,
    /// Unix timestamp, as Stripe gives it.
    pub expires_at: Option<i64>,
    /// Null once the session is no longer open.
    pub checkout_url: Option<String>,
}

/// A payment as `status`, the list and the detail endpoints show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentBody {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    #[schema(example = "PENDING")]
    pub payment_status: &'static str,
    #[schema(example = "Pendiente")]
    pub payment_status_display: &'static str,
    #[schema(example = "PENDING")]
    pub order_status: &'static str,
    #[schema(example = "Pendiente")]
    pub order_status_display: &'static str,
    #[schema(example = "100.00")]
    pub amount: String,
    #[schema(example = "USD")]
    pub currency: String,
    pub error_message: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Null when the payment has no session.
    pub stripe: Option<StripeMirror>,
}

pub fn stripe_mirror(payment: &Payment) -> Option<StripeMirror> {
    Some(StripeMirror {
        session_id: payment.stripe_session_id.clone()?,
        session_status: payment.stripe_session_status.clone(),
        payment_status: payment.stripe_payment_status.clone(),
        expires_at: payment.expires_at.map(OffsetDateTime::unix_timestamp),
        checkout_url: payment.stripe_checkout_url.clone(),
    })
}

pub fn payment_body(payment: &Payment, order_status: OrderStatus, lang: Lang) -> PaymentBody {
    PaymentBody {
        payment_id: payment.id.0,
        order_id: payment.order_id.0,
        payment_status: payment.status.as_str(),
        payment_status_display: payment.status.label(lang),
        order_status: order_status.as_str(),
        order_status_display: order_status.label(lang),
        amount: payment.amount().amount_string(),
        currency: payment.currency.as_str().to_owned(),
        error_message: payment.error_message.clone(),
        created_at: payment.created_at,
        updated_at: payment.updated_at,
        stripe: stripe_mirror(payment),
    }
}

pub fn view_body(view: &PaymentView, lang: Lang) -> PaymentBody {
    payment_body(&view.payment, view.order_status, lang)
}
