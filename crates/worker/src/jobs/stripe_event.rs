//! `stripe_event`: Any other stored Stripe event: processed for the record (acknowledged, nothing to change).

use crate::context::AppContext;
use crate::tasks::JobError;
use serde_json::Value;

pub async fn run(ctx: &AppContext, event_id: &str) -> Result<Value, JobError> {
    super::process_event(ctx, event_id).await
}
