//! async-stripe objects → the plain types of [`domain::gateway`].

use domain::gateway::{
    CheckoutSession, IssuedRefund, PaymentIntent, SessionPaymentStatus, SessionStatus,
};
use domain::values::ids::PaymentId;
use std::collections::HashMap;
use time::OffsetDateTime;

/// The metadata key holding our payment id (sessions and payment intents).
pub const PAYMENT_ID_KEY: &str = "payment_id";
/// The metadata key holding our order id.
pub const ORDER_ID_KEY: &str = "order_id";

pub fn checkout_session(session: &stripe_shared::CheckoutSession) -> CheckoutSession {
    let payment_id = session
        .metadata
        .as_ref()
        .and_then(payment_id_from_metadata)
        .or_else(|| {
            session
                .client_reference_id
                .as_deref()
                .and_then(|r| r.parse().ok())
        });
    CheckoutSession {
        id: session.id.as_str().to_owned(),
        status: session
            .status
            .as_ref()
            .map(|s| SessionStatus::parse(s.as_str()))
            .unwrap_or_else(|| SessionStatus::Other(String::new())),
        payment_status: SessionPaymentStatus::parse(session.payment_status.as_str()),
        payment_intent_id: session
            .payment_intent
            .as_ref()
            .map(|pi| pi.id().as_str().to_owned()),
        expires_at: Some(timestamp(session.expires_at)),
        url: session.url.clone(),
        payment_id,
    }
}

pub fn payment_intent(intent: &stripe_shared::PaymentIntent) -> PaymentIntent {
    PaymentIntent {
        id: intent.id.as_str().to_owned(),
        status: intent.status.as_str().to_owned(),
    }
}

pub fn refund(refund: &stripe_shared::Refund) -> IssuedRefund {
    IssuedRefund {
        id: refund.id.as_str().to_owned(),
        status: refund.status.clone().unwrap_or_default(),
        amount_minor: refund.amount,
    }
}

pub fn payment_id_from_metadata(metadata: &HashMap<String, String>) -> Option<PaymentId> {
    metadata.get(PAYMENT_ID_KEY).and_then(|v| v.parse().ok())
}

/// A Stripe timestamp; out-of-range values (never sent by Stripe) clamp to
/// the epoch rather than failing the whole object.
pub fn timestamp(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
