//! Recording a refund (`charge.refunded`, or our own refund of a late
//! payment): COMPLETED or CANCELLED → REFUNDED, idempotently. A refunded
//! payment's session is complete, so nothing is left to expire in Stripe:
//! the move also clears `stripe_expire_pending`.

use super::transition::{AlsoWrite, move_payment};
use crate::audit::Actor;
use crate::error::DomainError;
use crate::models::payment::Payment;
use crate::states::PaymentStatus;
use crate::values::ids::PaymentId;
use diesel_async::{AsyncConnection, AsyncPgConnection};

pub async fn record_refund(
    conn: &mut AsyncPgConnection,
    payment_id: PaymentId,
    actor: &Actor,
    detail: &serde_json::Value,
) -> Result<Payment, DomainError> {
    conn.transaction(async |conn| {
        let payment = Payment::lock(conn, payment_id)
            .await?
            .ok_or(DomainError::PaymentNotFound(payment_id))?;
        if payment.status != PaymentStatus::Refunded {
            move_payment(
                conn,
                &payment,
                PaymentStatus::Refunded,
                AlsoWrite {
                    mirror: None,
                    expire_pending: Some(false),
                },
                actor,
                detail,
            )
            .await?;
        }
        Payment::find(conn, payment_id)
            .await?
            .ok_or(DomainError::PaymentNotFound(payment_id))
    })
    .await
}
