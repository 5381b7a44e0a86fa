//! A session expired (SPEC §5.3). Stripe is the source of truth: the event
//! may be stale or out of order, so the session is read again first.

use super::cancel::{CancelOutcome, release};
use super::complete::{CompletionOutcome, complete_payment};
use crate::audit::Actor;
use crate::error::DomainError;
use crate::gateway::{SessionStatus, StripeGateway};
use crate::models::payment::{Payment, SessionMirror};
use crate::states::PaymentStatus;
use diesel_async::AsyncPgConnection;

#[derive(Debug, Clone)]
pub enum ExpiryOutcome {
    Cancelled(Box<CancelOutcome>),
    /// Stripe says it was paid: the completion path ran instead.
    Completed(Box<CompletionOutcome>),
    /// The payment is no longer open (completed, refunded or cancelled).
    AlreadySettled(PaymentStatus),
    /// Stripe still shows the session open (or complete but unpaid): stale event.
    NotExpiredInStripe(String),
}

/// Handles the expiry of the session `session_id` of the payment that
/// stored it.
pub async fn handle_session_expired(
    conn: &mut AsyncPgConnection,
    gateway: &dyn StripeGateway,
    session_id: &str,
    actor: &Actor,
) -> Result<ExpiryOutcome, DomainError> {
    let payment = Payment::find_by_session(conn, session_id)
        .await?
        .ok_or_else(|| DomainError::UnknownSession(session_id.to_owned()))?;
    expire_session_of(conn, gateway, payment, session_id, actor).await
}

/// Handles the expiry of `session_id`, a session of `payment`: the event
/// finds the payment by the session's id, or by its metadata when the
/// checkout never stored the session (Stripe created it after our call
/// gave up).
pub(crate) async fn expire_session_of(
    conn: &mut AsyncPgConnection,
    gateway: &dyn StripeGateway,
    payment: Payment,
    session_id: &str,
    actor: &Actor,
) -> Result<ExpiryOutcome, DomainError> {
    if !payment.status.is_open() {
        tracing::info!(target: "payments", payment_id = %payment.id, status = %payment.status,
            "session expired but the payment is already settled; nothing to do");
        return Ok(ExpiryOutcome::AlreadySettled(payment.status));
    }
    let session = gateway.retrieve_checkout_session(session_id).await?;
    if session.is_paid() {
        let outcome = complete_payment(conn, gateway, &session, actor).await?;
        return Ok(ExpiryOutcome::Completed(Box::new(outcome)));
    }
    if session.status == SessionStatus::Expired {
        let outcome = release(conn, payment.id, actor, Some(&session), None).await?;
        return Ok(ExpiryOutcome::Cancelled(Box::new(outcome)));
    }
    Payment::store_mirror(conn, payment.id, &SessionMirror::from(&session)).await?;
    Ok(ExpiryOutcome::NotExpiredInStripe(
        session.status.as_str().to_owned(),
    ))
}
