//! One handler per job (SPEC §7). Handlers only call domain services; the
//! task record, retries and metrics are [`crate::tasks::run_tracked`]'s.

pub mod charge_refunded;
pub mod checkout_session_completed;
pub mod checkout_session_expired;
pub mod clean_expired_sessions;
pub mod manual_payment_cancellation;
pub mod payment_failed;
pub mod stripe_event;

use crate::context::AppContext;
use crate::tasks::{JobError, TaskInfo, TaskRef, reject_unreadable, run_tracked};
use apalis::prelude::{BoxDynError, Data, TaskId};
use domain::jobs::{PAYMENTS_QUEUE, PaymentJob};
use domain::services::process_stored_event;
use serde_json::Value;
use std::sync::Arc;

/// The apalis handler of the payments queue. The worker consumes raw JSON
/// and decodes here, so a payload it cannot read becomes a recorded
/// failure rather than a task apalis silently drops.
pub async fn handle_payment_job(
    raw: Value,
    id: TaskId,
    ctx: Data<Arc<AppContext>>,
) -> Result<Value, BoxDynError> {
    let task = TaskRef::parse(&id);
    let job: PaymentJob = match serde_json::from_value(raw) {
        Ok(job) => job,
        Err(e) => return reject_unreadable(&ctx, &task, PAYMENTS_QUEUE, &e).await,
    };
    let storage = ctx.queue.payments_storage();
    let payment_id = match &job {
        PaymentJob::ManualPaymentCancellation { payment_id, .. } => Some(*payment_id),
        _ => None,
    };
    let info = TaskInfo {
        job_name: job.name(),
        task: &task,
        payment_id,
        retry_on: &storage,
        job: &job,
    };
    let work = async {
        match &job {
            PaymentJob::ManualPaymentCancellation { payment_id, actor } => {
                manual_payment_cancellation::run(&ctx, *payment_id, actor).await
            }
            PaymentJob::CheckoutSessionExpired { event_id } => {
                checkout_session_expired::run(&ctx, event_id).await
            }
            PaymentJob::CheckoutSessionCompleted { event_id } => {
                checkout_session_completed::run(&ctx, event_id).await
            }
            PaymentJob::PaymentFailed { event_id } => payment_failed::run(&ctx, event_id).await,
            PaymentJob::ChargeRefunded { event_id } => charge_refunded::run(&ctx, event_id).await,
            PaymentJob::StripeEvent { event_id } => stripe_event::run(&ctx, event_id).await,
        }
    };
    run_tracked(&ctx, info, work).await
}

/// The webhook jobs: the event is already stored in PostgreSQL (the API
/// stored it before answering Stripe); process it by id.
pub(crate) async fn process_event(ctx: &AppContext, event_id: &str) -> Result<Value, JobError> {
    let mut conn = ctx.pool.get().await?;
    let outcome = process_stored_event(
        &mut conn,
        ctx.gateway.as_ref(),
        ctx.parser.as_ref(),
        event_id,
    )
    .await?;
    tracing::info!(target: "payments", event_id, event_type = %outcome.event_type,
        action = %outcome.action, payment_id = outcome.payment_id.map(tracing::field::display),
        "stripe event processed");
    serde_json::to_value(&outcome).map_err(|e| JobError::Permanent(e.to_string()))
}
