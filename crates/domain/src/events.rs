//! Stripe webhook events as the domain understands them. `stripe-client`
//! verifies and parses raw events into these; the API stores the raw
//! payload first, and the worker (or the sweep) processes it.

use crate::gateway::CheckoutSession;
use crate::values::ids::PaymentId;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StripeEventKind {
    /// `checkout.session.completed`
    SessionCompleted(CheckoutSession),
    /// `checkout.session.async_payment_succeeded`
    SessionAsyncPaymentSucceeded(CheckoutSession),
    /// `checkout.session.async_payment_failed`
    SessionAsyncPaymentFailed(CheckoutSession),
    /// `checkout.session.expired`
    SessionExpired(CheckoutSession),
    /// `payment_intent.payment_failed`; `payment_id` comes from the intent's
    /// metadata (set at session creation through `payment_intent_data`).
    PaymentIntentFailed {
        payment_intent_id: String,
        payment_id: Option<PaymentId>,
        error_message: Option<String>,
    },
    /// `payment_intent.canceled`
    PaymentIntentCanceled {
        payment_intent_id: String,
        payment_id: Option<PaymentId>,
    },
    /// `charge.refunded`
    ChargeRefunded {
        payment_intent_id: Option<String>,
        amount_refunded_minor: i64,
    },
    /// Any other type: acknowledged and ignored.
    Ignored,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    pub id: String,
    pub event_type: String,
    pub created: OffsetDateTime,
    pub kind: StripeEventKind,
}
