//! Cancelling a payment (SPEC §5.2) and the release path shared by expiry
//! and the sweep: payment and order to CANCELLED, reservations released
//! exactly once, cart coupons cleared, audited — all in one transaction.

use super::complete::complete_payment;
use super::release::{ReleaseSummary, release_reservations};
use super::stripe_side::{StripeSide, close_session_telling_who};
use super::transition::{AlsoWrite, move_order, move_payment};
use crate::audit::Actor;
use crate::db::DbPool;
use crate::error::DomainError;
use crate::gateway::{CheckoutSession, StripeGateway};
use crate::models::order::Order;
use crate::models::payment::{Payment, SessionMirror};
use crate::states::{OrderStatus, PaymentStatus};
use crate::values::ids::PaymentId;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Serialize;
use serde_json::json;

/// What cancelling a payment does, by its status and, when known, what
/// Stripe says about its session. [`cancel_read_payment`] follows it; a
/// dry run (`manage test_cancellation --dry-run`) shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelPlan {
    Cancel,
    /// Stripe says the session is paid: the payment is recorded COMPLETED
    /// and the cancel refused.
    RecordCompleted,
    /// Already CANCELLED: a repeat changes nothing.
    Nothing,
    /// COMPLETED or REFUNDED: the cancel is refused.
    Refuse,
}

impl CancelPlan {
    pub fn decide(status: PaymentStatus, session: Option<&CheckoutSession>) -> Self {
        if status == PaymentStatus::Cancelled {
            Self::Nothing
        } else if !status.is_open() {
            Self::Refuse
        } else if session.is_some_and(CheckoutSession::is_paid) {
            Self::RecordCompleted
        } else {
            Self::Cancel
        }
    }
}

#[derive(Debug, Clone)]
pub struct CancelOutcome {
    /// The payment as it is after the call.
    pub payment: Payment,
    pub order_status: OrderStatus,
    /// It was cancelled before this call asked: nothing was released by
    /// it. (Not set when the webhook of this call's own expire won the race.)
    pub already_cancelled: bool,
    pub released: ReleaseSummary,
    /// Stripe could not be told; the sweep will expire the session later.
    pub stripe_warning: Option<String>,
}

/// Cancels a payment for `actor`: closes the Stripe session first so the
/// customer can no longer pay, then releases locally. If the customer has
/// already paid, the payment is recorded COMPLETED and `AlreadyPaid` is
/// returned. A Stripe outage does not stop the cancellation.
pub async fn cancel_payment(
    conn: &mut AsyncPgConnection,
    gateway: &dyn StripeGateway,
    payment_id: PaymentId,
    actor: &Actor,
) -> Result<CancelOutcome, DomainError> {
    let payment = Payment::find(conn, payment_id)
        .await?
        .ok_or(DomainError::PaymentNotFound(payment_id))?;
    let answer = ask_stripe_to_close(gateway, &payment).await?;
    settle_locally(conn, gateway, payment, answer, actor).await
}

/// [`cancel_payment`] for a payment the caller has just read (the API has,
/// to check who may see it): one read fewer. The snapshot only decides
/// whether to ask Stripe; the release re-reads it under a row lock.
///
/// A connection is taken from `pool` only once Stripe has answered. An API
/// server thread has a handful of connections: held while a slow Stripe
/// was retried, a few cancels used them all and every other request on
/// the thread answered 503 (black-box audit, Stripe delayed by 60 s).
pub async fn cancel_read_payment(
    pool: &DbPool,
    gateway: &dyn StripeGateway,
    payment: Payment,
    actor: &Actor,
) -> Result<CancelOutcome, DomainError> {
    let answer = ask_stripe_to_close(gateway, &payment).await?;
    let mut conn = pool.get().await?;
    settle_locally(&mut conn, gateway, payment, answer, actor).await
}

/// What Stripe answered a cancel, before any local write.
enum StripeAnswer {
    /// The payment was already CANCELLED: Stripe was not asked.
    NotAsked,
    /// What closing the session found, and whether this call closed it.
    Closing(StripeSide, bool),
}

async fn ask_stripe_to_close(
    gateway: &dyn StripeGateway,
    payment: &Payment,
) -> Result<StripeAnswer, DomainError> {
    // Stripe's answer is not known yet: `close_session` tells a paid one.
    match CancelPlan::decide(payment.status, None) {
        CancelPlan::Nothing => Ok(StripeAnswer::NotAsked),
        CancelPlan::Refuse => Err(DomainError::AlreadyPaid {
            payment: payment.id,
            status: payment.status,
        }),
        CancelPlan::Cancel | CancelPlan::RecordCompleted => {
            let (side, expired_now) = close_session_telling_who(gateway, payment).await;
            Ok(StripeAnswer::Closing(side, expired_now))
        }
    }
}

async fn settle_locally(
    conn: &mut AsyncPgConnection,
    gateway: &dyn StripeGateway,
    payment: Payment,
    answer: StripeAnswer,
    actor: &Actor,
) -> Result<CancelOutcome, DomainError> {
    let payment_id = payment.id;
    match answer {
        StripeAnswer::NotAsked => already_cancelled(conn, payment).await,
        StripeAnswer::Closing(StripeSide::Closed(session), expired_now) => {
            let outcome = release(conn, payment_id, actor, session.as_ref(), None).await?;
            Ok(own_expiry_counts_as_this_cancel(outcome, expired_now))
        }
        StripeAnswer::Closing(StripeSide::Paid(session), _) => {
            let outcome = complete_payment(conn, gateway, &session, actor).await?;
            Err(DomainError::AlreadyPaid {
                payment: payment_id,
                status: outcome.payment.status,
            })
        }
        StripeAnswer::Closing(StripeSide::Unreachable(e), _) => {
            tracing::warn!(target: "payments", payment_id = %payment_id, error = %e,
                "Stripe unreachable while cancelling; cancelled locally, the sweep will expire the session");
            release(conn, payment_id, actor, None, Some(e.to_string())).await
        }
    }
}

/// Expiring the session makes Stripe send `checkout.session.expired`, and
/// its job may cancel the payment before this call's own release does.
/// That cancellation is this call's doing: the caller asked to cancel an
/// open payment and it is cancelled, so it is not told "already
/// cancelled". The audit rows stay the webhook's, which wrote them.
fn own_expiry_counts_as_this_cancel(
    mut outcome: CancelOutcome,
    expired_now: bool,
) -> CancelOutcome {
    if outcome.already_cancelled && expired_now {
        tracing::info!(target: "payments", payment_id = %outcome.payment.id,
            "the expired webhook this cancel caused released the payment first");
        outcome.already_cancelled = false;
    }
    outcome
}

async fn already_cancelled(
    conn: &mut AsyncPgConnection,
    payment: Payment,
) -> Result<CancelOutcome, DomainError> {
    let order = Order::find(conn, payment.order_id)
        .await?
        .ok_or_else(|| DomainError::InvalidInput(format!("order {} missing", payment.order_id)))?;
    Ok(CancelOutcome {
        payment,
        order_status: order.status,
        already_cancelled: true,
        released: ReleaseSummary::default(),
        stripe_warning: None,
    })
}

/// The local half of every cancellation. `session` is what Stripe said (if
/// anything); `stripe_warning` set means Stripe still has to be told.
///
/// Four round trips whatever the order's size: BEGIN; the payment and
/// order locks with the order's lines; every write (pipelined, run in the
/// order sent); COMMIT.
pub async fn release(
    conn: &mut AsyncPgConnection,
    payment_id: PaymentId,
    actor: &Actor,
    session: Option<&CheckoutSession>,
    stripe_warning: Option<String>,
) -> Result<CancelOutcome, DomainError> {
    conn.transaction(async |conn| {
        let conn: &AsyncPgConnection = conn;
        let (locked, items) = futures::try_join!(
            Payment::lock_with_order(conn, payment_id),
            Order::items_of_payment(conn, payment_id),
        )?;
        let (payment, order) = locked.ok_or(DomainError::PaymentNotFound(payment_id))?;
        let mirror = session.map(SessionMirror::from);
        if !payment.status.is_open() {
            if let Some(mirror) = &mirror {
                Payment::store_mirror(conn, payment_id, mirror).await?;
            }
            if payment.status != PaymentStatus::Cancelled {
                return Err(DomainError::AlreadyPaid {
                    payment: payment.id,
                    status: payment.status,
                });
            }
            return Ok(CancelOutcome {
                payment,
                order_status: order.status,
                already_cancelled: true,
                released: ReleaseSummary::default(),
                stripe_warning,
            });
        }
        let detail = json!({
            "stripe_session_id": payment.stripe_session_id,
            "stripe_warning": stripe_warning,
        });
        let also = AlsoWrite {
            mirror: mirror.as_ref(),
            expire_pending: stripe_warning.as_ref().map(|_| true),
        };
        let (payment, _, released) = futures::try_join!(
            move_payment(
                conn,
                &payment,
                PaymentStatus::Cancelled,
                also,
                actor,
                &detail
            ),
            move_order(conn, &order, OrderStatus::Cancelled, actor, &detail),
            release_reservations(conn, &order, &items),
        )?;
        Ok(CancelOutcome {
            payment,
            order_status: OrderStatus::Cancelled,
            already_cancelled: false,
            released,
            stripe_warning,
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::{SessionPaymentStatus, SessionStatus};

    fn session(status: SessionStatus, paid: SessionPaymentStatus) -> CheckoutSession {
        CheckoutSession {
            id: "cs_test_1".into(),
            status,
            payment_status: paid,
            payment_intent_id: None,
            expires_at: None,
            url: None,
            payment_id: None,
        }
    }

    #[test]
    fn the_plan_follows_the_status_then_what_stripe_says() {
        use PaymentStatus as P;
        let open = session(SessionStatus::Open, SessionPaymentStatus::Unpaid);
        let paid = session(SessionStatus::Complete, SessionPaymentStatus::Paid);
        let cases = [
            (P::Pending, Some(&open), CancelPlan::Cancel),
            (P::Pending, None, CancelPlan::Cancel),
            (P::Failed, Some(&open), CancelPlan::Cancel),
            (P::Pending, Some(&paid), CancelPlan::RecordCompleted),
            (P::Cancelled, Some(&paid), CancelPlan::Nothing),
            (P::Completed, Some(&paid), CancelPlan::Refuse),
            (P::Refunded, None, CancelPlan::Refuse),
        ];
        for (status, session, expected) in cases {
            assert_eq!(
                CancelPlan::decide(status, session),
                expected,
                "{status} with {session:?}"
            );
        }
    }
}
