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
    /// `charge.refunded`, sent for partial refunds too.
    ChargeRefunded(RefundedCharge),
    /// Any other type: acknowledged and ignored.
    Ignored,
}

/// The charge of a `charge.refunded` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundedCharge {
    pub payment_intent_id: Option<String>,
    pub amount_minor: i64,
    /// Refunded so far, over every refund of the charge.
    pub amount_refunded_minor: i64,
    /// Stripe's `refunded`: the charge has been refunded in full.
    pub refunded: bool,
}

impl RefundedCharge {
    /// Only a full refund makes the payment REFUNDED; after a partial one
    /// the customer still paid for something.
    pub fn is_full(&self) -> bool {
        self.refunded || (self.amount_minor > 0 && self.amount_refunded_minor >= self.amount_minor)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    pub id: String,
    pub event_type: String,
    pub created: OffsetDateTime,
    pub kind: StripeEventKind,
}

#[cfg(test)]
mod tests {
    use super::RefundedCharge;

    fn charge(amount_refunded_minor: i64, refunded: bool) -> RefundedCharge {
        RefundedCharge {
            payment_intent_id: Some("pi_1".into()),
            amount_minor: 3000,
            amount_refunded_minor,
            refunded,
        }
    }

    #[test]
    fn only_a_charge_refunded_in_full_is_a_full_refund() {
        assert!(!charge(1000, false).is_full());
        assert!(charge(3000, false).is_full());
        assert!(charge(3000, true).is_full());
        assert!(charge(0, true).is_full(), "Stripe's flag is the truth");
    }
}
