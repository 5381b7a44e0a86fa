//! `checkout_session_completed`: checkout.session.completed (SPEC §5.5): payment and order COMPLETED; money for a cancelled payment is refunded.

use crate::context::AppContext;
use crate::tasks::JobError;
use serde_json::Value;

pub async fn run(ctx: &AppContext, event_id: &str) -> Result<Value, JobError> {
    super::process_event(ctx, event_id).await
}
