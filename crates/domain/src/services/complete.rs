//! Completion (SPEC §5.5): a paid session makes payment and order
//! COMPLETED; money that arrives for a payment already CANCELLED is
//! refunded through Stripe and the payment recorded REFUNDED.

use super::refund::record_refund;
use super::transition::{AlsoWrite, move_order, move_payment};
use crate::audit::Actor;
use crate::error::DomainError;
use crate::gateway::{CheckoutSession, Refund, StripeAction, StripeGateway, StripeIdempotencyKey};
use crate::models::payment::{Payment, SessionMirror};
use crate::states::{OrderStatus, PaymentStatus};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionAction {
    Completed,
    /// Already COMPLETED or REFUNDED: nothing to do (duplicate event).
    AlreadySettled,
    /// The session is complete but not paid yet (delayed payment method).
    AwaitingPayment,
    /// Paid after we cancelled: refunded through Stripe.
    RefundedLatePayment,
    /// The session is not the payment's own (it only carries our
    /// metadata): nothing was changed.
    ForeignSession,
}

#[derive(Debug, Clone)]
pub struct CompletionOutcome {
    pub payment: Payment,
    pub action: CompletionAction,
}

async fn payment_for_session(
    conn: &mut AsyncPgConnection,
    session: &CheckoutSession,
) -> Result<Payment, DomainError> {
    if let Some(payment) = Payment::find_by_session(conn, &session.id).await? {
        return Ok(payment);
    }
    // Checkout may not have stored the session id yet; the metadata knows.
    match session.payment_id {
        Some(id) => Payment::find(conn, id)
            .await?
            .ok_or_else(|| DomainError::UnknownSession(session.id.clone())),
        None => Err(DomainError::UnknownSession(session.id.clone())),
    }
}

pub async fn complete_payment(
    conn: &mut AsyncPgConnection,
    gateway: &dyn StripeGateway,
    session: &CheckoutSession,
    actor: &Actor,
) -> Result<CompletionOutcome, DomainError> {
    let payment_id = payment_for_session(conn, session).await?.id;
    let paid = session.is_paid();
    let (action, moved) = conn
        .transaction(async |conn| {
            let conn: &AsyncPgConnection = conn;
            let (payment, order) = Payment::lock_with_order(conn, payment_id)
                .await?
                .ok_or(DomainError::PaymentNotFound(payment_id))?;
            if !payment.owns_session(&session.id) {
                tracing::warn!(target: "payments", payment_id = %payment_id,
                    session_id = %session.id, stored_session_id = payment.stripe_session_id.as_deref(),
                    "completion for a session that is not the payment's own; nothing changed");
                return Ok((CompletionAction::ForeignSession, None));
            }
            let mirror = SessionMirror::from(session);
            let action = match payment.status {
                _ if !paid => CompletionAction::AwaitingPayment,
                PaymentStatus::Pending | PaymentStatus::Failed => {
                    let detail = json!({ "stripe_session_id": session.id });
                    let also = AlsoWrite {
                        mirror: Some(&mirror),
                        expire_pending: None,
                    };
                    let (moved, _) = futures::try_join!(
                        move_payment(
                            conn,
                            &payment,
                            PaymentStatus::Completed,
                            also,
                            actor,
                            &detail
                        ),
                        move_order(conn, &order, OrderStatus::Completed, actor, &detail),
                    )?;
                    return Ok((CompletionAction::Completed, Some(moved)));
                }
                PaymentStatus::Completed | PaymentStatus::Refunded => {
                    CompletionAction::AlreadySettled
                }
                PaymentStatus::Cancelled => CompletionAction::RefundedLatePayment,
            };
            Payment::store_mirror(conn, payment_id, &mirror).await?;
            Ok::<_, DomainError>((action, None))
        })
        .await?;
    if action == CompletionAction::RefundedLatePayment {
        return refund_late_payment(conn, gateway, session, payment_id, actor).await;
    }
    let payment = match moved {
        Some(payment) => payment,
        None => Payment::find(conn, payment_id)
            .await?
            .ok_or(DomainError::PaymentNotFound(payment_id))?,
    };
    Ok(CompletionOutcome { payment, action })
}

async fn refund_late_payment(
    conn: &mut AsyncPgConnection,
    gateway: &dyn StripeGateway,
    session: &CheckoutSession,
    payment_id: crate::values::ids::PaymentId,
    actor: &Actor,
) -> Result<CompletionOutcome, DomainError> {
    let payment = Payment::find(conn, payment_id)
        .await?
        .ok_or(DomainError::PaymentNotFound(payment_id))?;
    let intent = session
        .payment_intent_id
        .clone()
        .or(payment.stripe_payment_intent_id.clone())
        .ok_or_else(|| {
            DomainError::InvalidInput(format!(
                "payment {payment_id} was paid after cancellation but has no payment intent to refund"
            ))
        })?;
    tracing::error!(target: "payments", payment_id = %payment_id, session_id = %session.id,
        "payment arrived for a cancelled payment; refunding it through Stripe");
    let key = StripeIdempotencyKey::for_action(payment_id, StripeAction::Refund);
    let refund = gateway.create_refund(&intent, None, &key).await?;
    let detail = late_refund_detail(&refund);
    let payment = record_refund(conn, payment_id, actor, &detail).await?;
    Ok(CompletionOutcome {
        payment,
        action: CompletionAction::RefundedLatePayment,
    })
}

/// The audit detail of a late payment's refund. A charge someone already
/// refunded in Stripe (the dashboard) is as good as our own refund: the
/// money is back, so the payment is recorded REFUNDED all the same.
fn late_refund_detail(refund: &Refund) -> serde_json::Value {
    match refund {
        Refund::Issued(refund) => json!({
            "reason": "paid after cancellation",
            "refund_id": refund.id,
            "refund_status": refund.status,
            "amount_minor": refund.amount_minor,
        }),
        Refund::AlreadyRefunded => json!({
            "reason": "paid after cancellation",
            "refund_status": "already_refunded_in_stripe",
        }),
    }
}
