//! Task status records: what `task_status` reports, kept in PostgreSQL so
//! they outlive Redis restarts and expire on our schedule, not apalis's.

use crate::schema::task_records;
use crate::values::ids::{PaymentId, UserId};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use time::OffsetDateTime;

// PostgreSQL's `GREATEST`: an attempts count only ever goes up.
diesel::define_sql_function!(fn greatest(a: diesel::sql_types::Integer, b: diesel::sql_types::Integer) -> diesel::sql_types::Integer);

/// Celery's state names, which the frontend already understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskState {
    Pending,
    Started,
    Retry,
    Success,
    Failure,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "PENDING",
            TaskState::Started => "STARTED",
            TaskState::Retry => "RETRY",
            TaskState::Success => "SUCCESS",
            TaskState::Failure => "FAILURE",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "PENDING" => TaskState::Pending,
            "STARTED" => TaskState::Started,
            "RETRY" => TaskState::Retry,
            "SUCCESS" => TaskState::Success,
            "FAILURE" => TaskState::Failure,
            _ => return None,
        })
    }

    /// The task will not change any more.
    pub fn is_ready(self) -> bool {
        matches!(self, TaskState::Success | TaskState::Failure)
    }
}

/// The states [`TaskState::is_ready`] calls finished, as stored.
const FINISHED: [&str; 2] = ["SUCCESS", "FAILURE"];

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = task_records, check_for_backend(diesel::pg::Pg))]
pub struct TaskRecord {
    pub id: String,
    pub job_name: String,
    pub requested_by: Option<UserId>,
    pub payment_id: Option<PaymentId>,
    pub status: String,
    pub attempts: i32,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}

impl TaskRecord {
    pub fn state(&self) -> TaskState {
        TaskState::parse(&self.status).unwrap_or(TaskState::Pending)
    }

    /// Records a task about to be enqueued (PENDING); answers the record,
    /// the existing one when `id` was recorded before.
    pub async fn create(
        conn: &mut AsyncPgConnection,
        id: &str,
        job_name: &str,
        requested_by: Option<UserId>,
        payment_id: Option<PaymentId>,
    ) -> QueryResult<Self> {
        let created = diesel::insert_into(task_records::table)
            .values((
                task_records::id.eq(id),
                task_records::job_name.eq(job_name),
                task_records::requested_by.eq(requested_by),
                task_records::payment_id.eq(payment_id),
            ))
            .on_conflict(task_records::id)
            .do_nothing()
            .returning(Self::as_returning())
            .get_result(conn)
            .await
            .optional()?;
        // Only a task recorded before (a re-delivery) needs a second read.
        match created {
            Some(record) => Ok(record),
            None => Self::find(conn, id)
                .await?
                .ok_or(diesel::result::Error::NotFound),
        }
    }

    /// Marks the task STARTED for its 1-based `attempt` in one statement,
    /// recording it first when it has no record (a job pushed by hand).
    /// `attempts` counts every start: apalis re-runs a dead worker's job
    /// under the same attempt number, and that run is an attempt too.
    /// `None`: the task has already finished (a duplicate delivery), and
    /// its record is left as it is.
    pub async fn start(
        conn: &mut AsyncPgConnection,
        id: &str,
        job_name: &str,
        payment_id: Option<PaymentId>,
        attempt: i32,
    ) -> QueryResult<Option<Self>> {
        let now = OffsetDateTime::now_utc();
        let started = (
            task_records::status.eq(TaskState::Started.as_str()),
            task_records::updated_at.eq(now),
        );
        let upsert = diesel::insert_into(task_records::table)
            .values((
                task_records::id.eq(id),
                task_records::job_name.eq(job_name),
                task_records::payment_id.eq(payment_id),
                task_records::attempts.eq(attempt),
                started,
            ))
            .on_conflict(task_records::id)
            .do_update()
            .set((
                started,
                task_records::attempts.eq(greatest(attempt, task_records::attempts + 1)),
                task_records::result.eq(None::<serde_json::Value>),
                task_records::error.eq(None::<String>),
            ));
        // `DO UPDATE ... WHERE`: the upsert's own `filter`, not QueryDsl's.
        diesel::query_dsl::methods::FilterDsl::filter(upsert, task_records::status.ne_all(FINISHED))
            .returning(Self::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: &str) -> QueryResult<Option<Self>> {
        task_records::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Moves the task to `state`; `attempt` is the 1-based attempt number.
    /// A finished task is never moved back (a duplicate delivery of a job
    /// that already succeeded must not show it running again).
    pub async fn transition(
        conn: &mut AsyncPgConnection,
        id: &str,
        state: TaskState,
        attempt: i32,
        result: Option<&serde_json::Value>,
        error: Option<&str>,
    ) -> QueryResult<()> {
        let now = OffsetDateTime::now_utc();
        let finished_at = state.is_ready().then_some(now);
        diesel::update(
            task_records::table
                .find(id)
                .filter(task_records::status.ne_all(FINISHED)),
        )
        .set((
            task_records::status.eq(state.as_str()),
            // Never below the starts counted so far (crash re-runs).
            task_records::attempts.eq(greatest(attempt, task_records::attempts)),
            task_records::result.eq(result),
            task_records::error.eq(error),
            task_records::updated_at.eq(now),
            task_records::finished_at.eq(finished_at),
        ))
        .execute(conn)
        .await
        .map(drop)
    }

    /// Forgets finished tasks older than `before` (kept ≥ 24 h by callers).
    pub async fn delete_finished_before(
        conn: &mut AsyncPgConnection,
        before: OffsetDateTime,
    ) -> QueryResult<usize> {
        diesel::delete(
            task_records::table
                .filter(task_records::finished_at.lt(before))
                .filter(task_records::status.eq_any(["SUCCESS", "FAILURE"])),
        )
        .execute(conn)
        .await
    }
}
