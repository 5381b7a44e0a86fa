//! `manual_payment_cancellation` (SPEC §5.2 as a job): the same service as
//! the synchronous endpoint, for asynchronous callers.

use crate::context::AppContext;
use crate::tasks::JobError;
use domain::DomainError;
use domain::audit::Actor;
use domain::services::cancel_payment;
use domain::values::ids::PaymentId;
use serde_json::{Value, json};

pub async fn run(
    ctx: &AppContext,
    payment_id: PaymentId,
    actor: &Actor,
) -> Result<Value, JobError> {
    let mut conn = ctx.pool.get().await?;
    match cancel_payment(&mut conn, ctx.gateway.as_ref(), payment_id, actor).await {
        Ok(done) => Ok(json!({
            "status": if done.already_cancelled { "already_cancelled" } else { "success" },
            "payment_id": done.payment.id,
            "order_id": done.payment.order_id,
            "payment_status": done.payment.status,
            "order_status": done.order_status,
            "released": done.released,
            "warning": done.stripe_warning,
        })),
        // The customer paid first: recorded COMPLETED, nothing to cancel.
        Err(DomainError::AlreadyPaid { payment, status }) => Ok(json!({
            "status": "conflict",
            "payment_id": payment,
            "payment_status": status,
            "detail": "the payment is already paid and cannot be cancelled",
        })),
        Err(e) => Err(e.into()),
    }
}
