//! `POST /api/payments/check_expired_sessions/` (staff): enqueues a
//! one-off sweep (never a second chain); 503 when Redis is down.

use crate::auth::Staff;
use crate::body::{flag, json_object};
use crate::error::{ApiError, OrApi};
use crate::messages;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use domain::jobs::{CleanExpiredSessions, SweepTrigger};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// A one-off sweep was enqueued.
#[derive(Debug, Serialize, ToSchema)]
pub struct CleanupStartedBody {
    #[schema(example = "Limpieza de sesiones expiradas iniciada")]
    pub message: &'static str,
    /// Poll it with `task_status`.
    pub task_id: String,
    #[schema(example = "started")]
    pub status: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
}

#[utoipa::path(post, path = "/api/payments/check_expired_sessions/", tag = "payments",
    request_body(content = String, description = "Optional {dry_run, force}", content_type = "application/json"),
    responses((status = 202, description = "A one-off sweep was enqueued", body = CleanupStartedBody),
              (status = 403, description = "Not staff"),
              (status = 503, description = "Task queue unavailable")))]
pub async fn post_check_expired_sessions(
    Staff(auth): Staff,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let lang = auth.lang;
    let options = json_object(&body, true, lang)?;
    let job = CleanExpiredSessions {
        trigger: SweepTrigger::Oneoff,
        dry_run: flag(&options, "dry_run", lang)?,
        force: flag(&options, "force", lang)?,
        chain_token: None,
    };
    let queue = state.queue.get().await.or_api(lang)?;
    let mut conn = state.pool.get().await.or_api(lang)?;
    let task_id = queue
        .enqueue_sweep(&mut conn, job, Some(auth.user.id), None)
        .await
        .or_api(lang)?;
    tracing::info!(target: "payments", %task_id, user_id = %auth.user.id, "one-off sweep enqueued");
    let now = OffsetDateTime::now_utc();
    Ok(HttpResponse::Accepted().json(CleanupStartedBody {
        message: messages::CLEANUP_STARTED.get(lang),
        task_id,
        status: "started",
        // Microseconds, like every timestamp read back from PostgreSQL.
        timestamp: now
            .replace_nanosecond(now.microsecond() * 1000)
            .unwrap_or(now),
    }))
}
