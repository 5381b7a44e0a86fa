//! The only place statuses change: checks the state machine, stamps the
//! timestamps and writes the audit row, inside the caller's transaction.
//! The update and its audit row go to PostgreSQL together (pipelined on
//! the shared connection): one round trip, executed in order.

use crate::audit::{self, Actor, Entity};
use crate::error::DomainError;
use crate::models::order::Order;
use crate::models::payment::{Payment, SessionMirror};
use crate::schema::{orders, payments};
use crate::states::{OrderStatus, PaymentStatus};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::OffsetDateTime;

/// What else a payment's move writes onto its row, in the move's own
/// UPDATE (one statement and one row version instead of two).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct AlsoWrite<'a> {
    /// What Stripe just said about the session.
    pub mirror: Option<&'a SessionMirror>,
    /// Whether Stripe still has to be told to expire the session.
    pub expire_pending: Option<bool>,
}

/// Answers the payment as stored after the move.
pub(crate) async fn move_payment(
    conn: &AsyncPgConnection,
    payment: &Payment,
    to: PaymentStatus,
    also: AlsoWrite<'_>,
    actor: &Actor,
    detail: &serde_json::Value,
) -> Result<Payment, DomainError> {
    if !payment.status.can_transition_to(to) {
        return Err(DomainError::InvalidTransition {
            payment: payment.id,
            from: payment.status,
            to,
        });
    }
    let now = OffsetDateTime::now_utc();
    let stamp = |status: PaymentStatus, current: Option<OffsetDateTime>| {
        if to == status { Some(now) } else { current }
    };
    let update = diesel::update(payments::table.find(payment.id))
        .set((
            payments::status.eq(to),
            payments::updated_at.eq(now),
            payments::completed_at.eq(stamp(PaymentStatus::Completed, payment.completed_at)),
            payments::cancelled_at.eq(stamp(PaymentStatus::Cancelled, payment.cancelled_at)),
            payments::refunded_at.eq(stamp(PaymentStatus::Refunded, payment.refunded_at)),
            also.mirror,
            also.expire_pending
                .map(|p| payments::stripe_expire_pending.eq(p)),
            // A declined card retried and paid: the decline is history (its
            // FAILED audit row keeps it), not what the frontend should show.
            (to == PaymentStatus::Completed).then_some(payments::error_message.eq(None::<String>)),
        ))
        .returning(Payment::as_returning());
    let mut update_conn = conn;
    let moved = with_audit_row(
        conn,
        update.get_result(&mut update_conn),
        Entity::Payment(payment.id.0),
        (payment.status.as_str(), to.as_str()),
        actor,
        detail,
    )
    .await?;
    tracing::info!(
        target: "payments",
        payment_id = %payment.id,
        from = payment.status.as_str(),
        to = to.as_str(),
        source = actor.source.as_str(),
        "payment transition"
    );
    Ok(moved)
}

/// Moves the order if it is not already there; an order that cannot make
/// the move is an invariant break and aborts the transaction.
pub(crate) async fn move_order(
    conn: &AsyncPgConnection,
    order: &Order,
    to: OrderStatus,
    actor: &Actor,
    detail: &serde_json::Value,
) -> Result<(), DomainError> {
    if order.status == to {
        return Ok(());
    }
    if !order.status.can_transition_to(to) {
        return Err(DomainError::InvalidInput(format!(
            "order {} cannot go from {} to {}",
            order.id, order.status, to
        )));
    }
    let update = diesel::update(orders::table.find(order.id)).set((
        orders::status.eq(to),
        orders::updated_at.eq(OffsetDateTime::now_utc()),
    ));
    let mut update_conn = conn;
    with_audit_row(
        conn,
        update.execute(&mut update_conn),
        Entity::Order(order.id.0),
        (order.status.as_str(), to.as_str()),
        actor,
        detail,
    )
    .await?;
    Ok(())
}

/// Sends `change` and the audit row recording it together; answers what
/// `change` answered.
async fn with_audit_row<T>(
    conn: &AsyncPgConnection,
    change: impl Future<Output = QueryResult<T>>,
    entity: Entity,
    (from, to): (&str, &str),
    actor: &Actor,
    detail: &serde_json::Value,
) -> Result<T, DomainError> {
    let audit_row = audit::record(conn, entity, from, to, actor, detail);
    let (changed, ()) = futures::try_join!(change, audit_row)?;
    Ok(changed)
}
