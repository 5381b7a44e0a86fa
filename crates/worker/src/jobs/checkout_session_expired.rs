//! `checkout_session_expired`: checkout.session.expired (SPEC §5.3): the payment is re-read from Stripe, then cancelled or completed.

use crate::context::AppContext;
use crate::tasks::JobError;
use serde_json::Value;

pub async fn run(ctx: &AppContext, event_id: &str) -> Result<Value, JobError> {
    super::process_event(ctx, event_id).await
}
