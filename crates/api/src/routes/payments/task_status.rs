//! `GET /api/payments/task_status/?task_id=`: the job's state (Celery
//! names) and result, for the user who caused it or staff.

use crate::auth::Authenticated;
use crate::error::{ApiError, OrApi};
use crate::messages::{self, Msg};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use domain::models::task::{TaskRecord, TaskState};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

/// A background task's state, with Celery's names.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskStatusBody {
    pub task_id: String,
    /// `PENDING`, `STARTED`, `RETRY`, `SUCCESS` or `FAILURE`.
    #[schema(example = "SUCCESS")]
    pub status: &'static str,
    /// The task will not change any more.
    pub ready: bool,
    /// The handler's result on SUCCESS, `{"error": ...}` on FAILURE/RETRY, else null.
    pub result: Value,
    #[schema(example = "Tarea completada exitosamente")]
    pub message: &'static str,
    /// Attempts started so far (SPEC §7); 0 while it waits for its first.
    #[schema(example = 1)]
    pub attempts: i32,
}

#[derive(Debug, Deserialize)]
pub struct TaskQuery {
    pub task_id: Option<String>,
}

fn message(record: &TaskRecord) -> Msg {
    match record.state() {
        TaskState::Pending => messages::TASK_PENDING,
        TaskState::Started => messages::TASK_STARTED,
        TaskState::Retry => messages::TASK_RETRY,
        // A sweep that ran to the end but could not reconcile everything
        // (its `errors` are in the result) is not "successful" to a reader.
        TaskState::Success
            if record
                .result
                .as_ref()
                .is_some_and(|r| r["outcome"] == "error") =>
        {
            messages::TASK_SUCCESS_WITH_ERRORS
        }
        TaskState::Success => messages::TASK_SUCCESS,
        TaskState::Failure => messages::TASK_FAILURE,
    }
}

fn result(record: &TaskRecord) -> Value {
    match record.state() {
        TaskState::Success => record.result.clone().unwrap_or(Value::Null),
        TaskState::Failure | TaskState::Retry => json!({ "error": record.error }),
        TaskState::Pending | TaskState::Started => Value::Null,
    }
}

#[utoipa::path(get, path = "/api/payments/task_status/", tag = "payments",
    params(("task_id" = String, Query, description = "The id an endpoint returned")),
    responses((status = 200, description = "The task's state and result", body = TaskStatusBody),
              (status = 400, description = "task_id missing"),
              (status = 404, description = "Unknown task, or caused by someone else")))]
pub async fn get_task_status(
    auth: Authenticated,
    state: web::Data<AppState>,
    query: web::Query<TaskQuery>,
) -> Result<HttpResponse, ApiError> {
    let lang = auth.lang;
    let task_id = query
        .task_id
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::field("task_id", messages::FIELD_REQUIRED.get(lang)))?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, messages::TASK_NOT_FOUND, lang);
    // PostgreSQL text cannot hold NUL (the query would fail with a 500),
    // so no task has such an id.
    if task_id.len() > 64 || task_id.contains('\0') {
        return Err(not_found());
    }
    let mut conn = state.pool.get().await.or_api(lang)?;
    let record = TaskRecord::find(&mut conn, task_id)
        .await
        .or_api(lang)?
        .filter(|r| auth.is_staff() || r.requested_by == Some(auth.user.id))
        .ok_or_else(not_found)?;
    let task_state = record.state();
    Ok(HttpResponse::Ok().json(TaskStatusBody {
        status: task_state.as_str(),
        ready: task_state.is_ready(),
        result: result(&record),
        message: message(&record).get(lang),
        attempts: record.attempts,
        task_id: record.id,
    }))
}
