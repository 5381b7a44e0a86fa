//! `charge_refunded`: charge.refunded (SPEC §5.5): the payment becomes REFUNDED.

use crate::context::AppContext;
use crate::tasks::JobError;
use serde_json::Value;

pub async fn run(ctx: &AppContext, event_id: &str) -> Result<Value, JobError> {
    super::process_event(ctx, event_id).await
}
