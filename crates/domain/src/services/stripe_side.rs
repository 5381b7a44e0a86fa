//! Closing a payment's Checkout Session in Stripe so the customer can no
//! longer pay, and learning what Stripe knows when it refuses.

use crate::gateway::{
    CheckoutSession, GatewayError, SessionStatus, StripeAction, StripeGateway, StripeIdempotencyKey,
};
use crate::models::payment::Payment;

/// What Stripe says after we tried to close the session.
#[derive(Debug)]
pub(crate) enum StripeSide {
    /// Nobody can pay any more (expired now, already expired, or no session).
    Closed(Option<CheckoutSession>),
    /// The customer paid before we could close it.
    Paid(CheckoutSession),
    /// Stripe could not be reached or refused; the session may still be open.
    Unreachable(GatewayError),
}

pub(crate) async fn close_session(gateway: &dyn StripeGateway, payment: &Payment) -> StripeSide {
    close_session_telling_who(gateway, payment).await.0
}

/// [`close_session`], and whether this call's own expire closed the
/// session (`true`), rather than finding it closed already.
pub(crate) async fn close_session_telling_who(
    gateway: &dyn StripeGateway,
    payment: &Payment,
) -> (StripeSide, bool) {
    let Some(session_id) = payment.stripe_session_id.as_deref() else {
        return (StripeSide::Closed(None), false);
    };
    let key = StripeIdempotencyKey::for_action(payment.id, StripeAction::ExpireSession);
    let (session, expired_now) = match gateway.expire_checkout_session(session_id, &key).await {
        Ok(session) => (session, true),
        Err(GatewayError::SessionNotOpen(refusal)) => {
            match gateway.retrieve_checkout_session(session_id).await {
                // Stripe refused the expire yet shows the session open: the
                // customer can still pay, so it is not closed (the sweep
                // tries again), whatever the refusal said.
                Ok(session) if session.status == SessionStatus::Open => {
                    let e = GatewayError::Permanent(format!(
                        "Stripe refused to expire an open session: {refusal}"
                    ));
                    return (StripeSide::Unreachable(e), false);
                }
                Ok(session) => (session, false),
                Err(e) => return (StripeSide::Unreachable(e), false),
            }
        }
        Err(GatewayError::NotFound(_)) => return (StripeSide::Closed(None), false),
        Err(e) => return (StripeSide::Unreachable(e), false),
    };
    if session.is_paid() {
        return (StripeSide::Paid(session), false);
    }
    cancel_intent_if_cancelable(gateway, payment, &session).await;
    (StripeSide::Closed(Some(session)), expired_now)
}

/// An authorised-but-uncaptured intent would hold the customer's money;
/// Stripe only lets it be cancelled in `requires_capture`.
async fn cancel_intent_if_cancelable(
    gateway: &dyn StripeGateway,
    payment: &Payment,
    session: &CheckoutSession,
) {
    let Some(intent_id) = session.payment_intent_id.as_deref() else {
        return;
    };
    let key = StripeIdempotencyKey::for_action(payment.id, StripeAction::CancelPaymentIntent);
    let result = match gateway.retrieve_payment_intent(intent_id).await {
        Ok(intent) if intent.is_cancelable() => gateway
            .cancel_payment_intent(intent_id, &key)
            .await
            .map(drop),
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::warn!(target: "payments", payment_id = %payment.id, error = %e,
            "could not cancel the payment intent; the expired session keeps it from being paid");
    }
}
