//! `payment_failed`: payment_intent.payment_failed (SPEC §5.5): the payment becomes FAILED with Stripe's message; the session may still succeed.

use crate::context::AppContext;
use crate::tasks::JobError;
use serde_json::Value;

pub async fn run(ctx: &AppContext, event_id: &str) -> Result<Value, JobError> {
    super::process_event(ctx, event_id).await
}
