//! Processing Stripe webhook events (SPEC §5.5): each stored event goes to
//! the service its type calls for. Handlers check current state, so events
//! may arrive duplicated and in any order.

use super::complete::{CompletionAction, complete_payment};
use super::expire::{ExpiryOutcome, expire_session_of};
use super::fail::record_payment_failed;
use super::refund::record_refund;
use crate::audit::{Actor, AuditSource};
use crate::error::DomainError;
use crate::events::{RefundedCharge, StripeEvent, StripeEventKind};
use crate::gateway::{CheckoutSession, StripeGateway};
use crate::models::payment::Payment;
use crate::models::stripe_event::StoredEvent;
use crate::states::PaymentStatus;
use crate::values::ids::PaymentId;
use diesel_async::AsyncPgConnection;
use serde::Serialize;
use serde_json::json;

/// Turns a raw event payload into a typed event (implemented by
/// `stripe-client`; verification happened when the event was received).
pub trait EventParser: Send + Sync {
    fn parse(&self, payload: &[u8]) -> Result<StripeEvent, String>;
}

/// What processing an event did, for the task result and the logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventOutcome {
    pub event_id: String,
    pub event_type: String,
    pub payment_id: Option<PaymentId>,
    /// e.g. `completed`, `cancelled`, `failed`, `refunded`, `ignored`,
    /// `already_processed`, `nothing_to_do`, `foreign_session`,
    /// `partial_refund_noted`.
    pub action: String,
    pub payment_status: Option<PaymentStatus>,
}

fn outcome(event: &StripeEvent, payment: Option<&Payment>, action: &str) -> EventOutcome {
    EventOutcome {
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        payment_id: payment.map(|p| p.id),
        action: action.to_owned(),
        payment_status: payment.map(|p| p.status),
    }
}

/// The action of an event about a session (or intent) that only carries
/// the payment's metadata: not the payment's own, so it changes nothing.
const FOREIGN: &str = "foreign_session";

fn warn_foreign(event: &StripeEvent, payment: &Payment, object_id: &str) {
    tracing::warn!(target: "payments", event_id = %event.id, event_type = %event.event_type,
        payment_id = %payment.id, stripe_object = %object_id,
        stored_session_id = payment.stripe_session_id.as_deref(),
        stored_payment_intent_id = payment.stripe_payment_intent_id.as_deref(),
        "event for a Stripe object that is not the payment's own; nothing changed");
}

/// A failure reported for a payment that has settled meanwhile (paid,
/// cancelled) changes nothing, and the task result says so.
fn failure_action(payment: &Payment) -> &'static str {
    if payment.status == PaymentStatus::Failed {
        "failed"
    } else {
        "nothing_to_do"
    }
}

async fn payment_for_session(
    conn: &mut AsyncPgConnection,
    session: &CheckoutSession,
) -> Result<Payment, DomainError> {
    if let Some(p) = Payment::find_by_session(conn, &session.id).await? {
        return Ok(p);
    }
    match session.payment_id {
        Some(id) => Payment::find(conn, id).await?,
        None => None,
    }
    .ok_or_else(|| DomainError::UnknownSession(session.id.clone()))
}

async fn payment_for_intent(
    conn: &mut AsyncPgConnection,
    payment_id: Option<PaymentId>,
    intent: &str,
) -> Result<Payment, DomainError> {
    if let Some(id) = payment_id
        && let Some(p) = Payment::find(conn, id).await?
    {
        return Ok(p);
    }
    Payment::find_by_payment_intent(conn, intent)
        .await?
        .ok_or_else(|| DomainError::UnknownSession(format!("payment intent {intent}")))
}

/// Applies one event. Unknown sessions are an error the caller retries
/// later (the checkout may not have stored its session id yet).
pub async fn process_event(
    conn: &mut AsyncPgConnection,
    gateway: &dyn StripeGateway,
    event: &StripeEvent,
) -> Result<EventOutcome, DomainError> {
    let actor = Actor::new(AuditSource::Webhook, event.id.clone());
    match &event.kind {
        StripeEventKind::SessionCompleted(session)
        | StripeEventKind::SessionAsyncPaymentSucceeded(session) => {
            let done = complete_payment(conn, gateway, session, &actor).await?;
            let action = match done.action {
                CompletionAction::Completed => "completed",
                CompletionAction::AlreadySettled => "nothing_to_do",
                CompletionAction::AwaitingPayment => "awaiting_payment",
                CompletionAction::RefundedLatePayment => "refunded_late_payment",
                CompletionAction::ForeignSession => FOREIGN,
            };
            Ok(outcome(event, Some(&done.payment), action))
        }
        StripeEventKind::SessionAsyncPaymentFailed(session) => {
            let payment = payment_for_session(conn, session).await?;
            if !payment.owns_session(&session.id) {
                warn_foreign(event, &payment, &session.id);
                return Ok(outcome(event, Some(&payment), FOREIGN));
            }
            let reason = Some("The delayed payment failed.");
            let payment = record_payment_failed(
                conn,
                payment.id,
                session.payment_intent_id.as_deref(),
                reason,
                &actor,
            )
            .await?;
            Ok(outcome(event, Some(&payment), failure_action(&payment)))
        }
        StripeEventKind::SessionExpired(session) => {
            let payment = payment_for_session(conn, session).await?;
            if !payment.owns_session(&session.id) {
                warn_foreign(event, &payment, &session.id);
                return Ok(outcome(event, Some(&payment), FOREIGN));
            }
            let payment_id = payment.id;
            let result = expire_session_of(conn, gateway, payment, &session.id, &actor).await?;
            let action = match result {
                ExpiryOutcome::Cancelled(_) => "cancelled",
                ExpiryOutcome::Completed(_) => "completed",
                ExpiryOutcome::AlreadySettled(_) => "nothing_to_do",
                ExpiryOutcome::NotExpiredInStripe(_) => "not_expired_in_stripe",
            };
            let payment = match result {
                ExpiryOutcome::Cancelled(done) => Some(done.payment),
                ExpiryOutcome::Completed(done) => Some(done.payment),
                ExpiryOutcome::AlreadySettled(_) | ExpiryOutcome::NotExpiredInStripe(_) => {
                    Payment::find(conn, payment_id).await?
                }
            };
            Ok(outcome(event, payment.as_ref(), action))
        }
        StripeEventKind::PaymentIntentFailed {
            payment_intent_id,
            payment_id,
            error_message,
        } => {
            let payment = payment_for_intent(conn, *payment_id, payment_intent_id).await?;
            if !payment.owns_payment_intent(payment_intent_id) {
                warn_foreign(event, &payment, payment_intent_id);
                return Ok(outcome(event, Some(&payment), FOREIGN));
            }
            let payment = record_payment_failed(
                conn,
                payment.id,
                Some(payment_intent_id),
                error_message.as_deref(),
                &actor,
            )
            .await?;
            Ok(outcome(event, Some(&payment), failure_action(&payment)))
        }
        StripeEventKind::ChargeRefunded(charge) if charge.amount_refunded_minor > 0 => {
            charge_refunded(conn, gateway, event, charge, &actor).await
        }
        StripeEventKind::PaymentIntentCanceled { .. }
        | StripeEventKind::ChargeRefunded(_)
        | StripeEventKind::Ignored => Ok(outcome(event, None, "ignored")),
    }
}

/// A full refund makes a paid (or late-paid) payment REFUNDED. A partial
/// one changes no status — the customer still paid for the rest — and is
/// only logged and reported as `partial_refund_noted`.
async fn charge_refunded(
    conn: &mut AsyncPgConnection,
    gateway: &dyn StripeGateway,
    event: &StripeEvent,
    charge: &RefundedCharge,
    actor: &Actor,
) -> Result<EventOutcome, DomainError> {
    let Some(intent) = charge.payment_intent_id.as_deref() else {
        return Ok(outcome(event, None, "ignored"));
    };
    let mut payment = payment_for_intent(conn, None, intent).await?;
    if payment.status.is_open() {
        payment = paid_before_refunded(conn, gateway, payment, actor).await?;
    }
    if !matches!(
        payment.status,
        PaymentStatus::Completed | PaymentStatus::Cancelled
    ) {
        return Ok(outcome(event, Some(&payment), "nothing_to_do"));
    }
    if !charge.is_full() {
        tracing::info!(target: "payments", payment_id = %payment.id, event_id = %event.id,
            amount_minor = charge.amount_minor, amount_refunded_minor = charge.amount_refunded_minor,
            "partial refund in Stripe; the payment keeps its status");
        return Ok(outcome(event, Some(&payment), "partial_refund_noted"));
    }
    let detail =
        json!({ "event_id": event.id, "amount_refunded_minor": charge.amount_refunded_minor });
    let payment = record_refund(conn, payment.id, actor, &detail).await?;
    Ok(outcome(event, Some(&payment), "refunded"))
}

/// A refund for a payment still open here: its completion has not been
/// processed yet (events arrive in any order; a webhook may have been
/// lost). Stripe is the source of truth: a paid session completes the
/// payment now, so the refund then applies; otherwise the event waits.
/// Marking it processed as `nothing_to_do` lost the refund for good.
async fn paid_before_refunded(
    conn: &mut AsyncPgConnection,
    gateway: &dyn StripeGateway,
    payment: Payment,
    actor: &Actor,
) -> Result<Payment, DomainError> {
    let Some(session_id) = payment.stripe_session_id.as_deref() else {
        return Err(DomainError::NotPaidYet(payment.id));
    };
    let session = gateway.retrieve_checkout_session(session_id).await?;
    if !session.is_paid() {
        return Err(DomainError::NotPaidYet(payment.id));
    }
    Ok(complete_payment(conn, gateway, &session, actor)
        .await?
        .payment)
}

/// Whether the payment `event` is about is known here, as processing it
/// would find it: a dry run predicts `event_waiting` when it is not.
/// Events about no payment count as known (they are processed, ignored).
pub async fn knows_payment_of(
    conn: &mut AsyncPgConnection,
    event: &StripeEvent,
) -> Result<bool, DomainError> {
    let found = match &event.kind {
        StripeEventKind::SessionCompleted(session)
        | StripeEventKind::SessionAsyncPaymentSucceeded(session)
        | StripeEventKind::SessionAsyncPaymentFailed(session)
        | StripeEventKind::SessionExpired(session) => {
            payment_for_session(conn, session).await.map(drop)
        }
        StripeEventKind::PaymentIntentFailed {
            payment_intent_id,
            payment_id,
            ..
        } => payment_for_intent(conn, *payment_id, payment_intent_id)
            .await
            .map(drop),
        StripeEventKind::ChargeRefunded(RefundedCharge {
            payment_intent_id: Some(intent),
            amount_refunded_minor,
            ..
        }) if *amount_refunded_minor > 0 => payment_for_intent(conn, None, intent).await.map(drop),
        StripeEventKind::PaymentIntentCanceled { .. }
        | StripeEventKind::ChargeRefunded(_)
        | StripeEventKind::Ignored => Ok(()),
    };
    match found {
        Ok(()) => Ok(true),
        Err(DomainError::UnknownSession(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Processes a stored event by id (the webhook jobs and the sweep call
/// this). An event already processed is not processed again; a failure is
/// counted on the event and returned so the caller can retry.
pub async fn process_stored_event(
    conn: &mut AsyncPgConnection,
    gateway: &dyn StripeGateway,
    parser: &dyn EventParser,
    event_id: &str,
) -> Result<EventOutcome, DomainError> {
    let stored = StoredEvent::find(conn, event_id)
        .await?
        .ok_or_else(|| DomainError::InvalidInput(format!("no stored Stripe event {event_id}")))?;
    if stored.processed_at.is_some() {
        return Ok(EventOutcome {
            event_id: stored.id,
            event_type: stored.event_type,
            payment_id: None,
            action: "already_processed".into(),
            payment_status: None,
        });
    }
    let raw = serde_json::to_vec(&stored.payload)
        .map_err(|e| DomainError::InvalidInput(e.to_string()))?;
    let event = match parser.parse(&raw) {
        Ok(event) => event,
        Err(e) => {
            // An authentic event we cannot read will not improve with
            // retries: record why and stop.
            StoredEvent::mark_processed(conn, event_id, Some(&e)).await?;
            return Err(DomainError::InvalidInput(format!(
                "unreadable Stripe event {event_id}: {e}"
            )));
        }
    };
    match process_event(conn, gateway, &event).await {
        Ok(result) => {
            StoredEvent::mark_processed(conn, event_id, None).await?;
            Ok(result)
        }
        Err(e) => {
            StoredEvent::mark_failed_attempt(conn, event_id, &e.to_string()).await?;
            Err(e)
        }
    }
}
