//! A failed card (`payment_intent.payment_failed`): PENDING → FAILED with
//! the reason. The session stays open, so the customer may still pay.

use super::transition::{AlsoWrite, move_payment};
use crate::audit::Actor;
use crate::error::DomainError;
use crate::models::payment::Payment;
use crate::schema::payments;
use crate::states::PaymentStatus;
use crate::values::ids::PaymentId;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;

/// Records the failure; a payment that has since completed or been
/// cancelled is left alone (events arrive out of order).
pub async fn record_payment_failed(
    conn: &mut AsyncPgConnection,
    payment_id: PaymentId,
    payment_intent_id: Option<&str>,
    error_message: Option<&str>,
    actor: &Actor,
) -> Result<Payment, DomainError> {
    conn.transaction(async |conn| {
        let payment = Payment::lock(conn, payment_id)
            .await?
            .ok_or(DomainError::PaymentNotFound(payment_id))?;
        if payment.status == PaymentStatus::Pending {
            let detail =
                json!({ "error_message": error_message, "payment_intent_id": payment_intent_id });
            move_payment(
                conn,
                &payment,
                PaymentStatus::Failed,
                AlsoWrite::default(),
                actor,
                &detail,
            )
            .await?;
        }
        if payment.status.is_open() {
            diesel::update(payments::table.find(payment_id))
                .set((
                    payments::error_message.eq(error_message),
                    payments::stripe_payment_intent_id
                        .eq(payment_intent_id.or(payment.stripe_payment_intent_id.as_deref())),
                ))
                .execute(conn)
                .await?;
        }
        Payment::find(conn, payment_id)
            .await?
            .ok_or(DomainError::PaymentNotFound(payment_id))
    })
    .await
}
