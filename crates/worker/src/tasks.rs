//! The life of one task: its PostgreSQL record (Celery's states), our own
//! retries with exponential backoff, and the guard against jobs that keep
//! killing their worker.
//!
//! Handlers never hand a plain error to apalis: apalis-redis would retry it
//! up to a hard-coded 25 times at `now + attempt` seconds, ignoring
//! `max_attempts`. Instead a transient failure schedules a *new* task with
//! the deterministic id `{record}~{attempt}` after our backoff and the
//! current one ends Done; a permanent failure (or the last attempt) ends
//! with `AbortError`, which apalis records as Killed and never retries.
//! Only when Redis refuses the retry push is a plain error returned, so
//! apalis keeps the task (its own retry) rather than losing it.

use crate::context::AppContext;
use crate::metrics as m;
use apalis::prelude::{AbortError, BoxDynError, TaskBuilder, TaskId, TaskSink};
use apalis_redis::RedisStorage;
use domain::DomainError;
use domain::models::task::{TaskRecord, TaskState};
use domain::values::ids::PaymentId;
use futures::FutureExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Separates a task record's id from the attempt number in retry task ids.
pub const RETRY_SEPARATOR: char = '~';

/// How a handler failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Trying again later may work (Stripe or the database unavailable).
    #[error("{0}")]
    Transient(String),
    /// Trying again will not help.
    #[error("{0}")]
    Permanent(String),
    /// The event's session is not known here (yet): retried like a
    /// transient error, and once the attempts run out the stored event is
    /// left to the sweep, which keeps retrying it (SPEC §5.5) — not a
    /// failure to alert on.
    #[error("{0}")]
    Waiting(String),
}

impl From<DomainError> for JobError {
    fn from(e: DomainError) -> Self {
        if e.is_waiting() {
            JobError::Waiting(e.to_string())
        } else if e.is_transient() {
            JobError::Transient(e.to_string())
        } else {
            JobError::Permanent(e.to_string())
        }
    }
}

impl From<diesel_async::pooled_connection::bb8::RunError> for JobError {
    fn from(e: diesel_async::pooled_connection::bb8::RunError) -> Self {
        JobError::Transient(format!(
            "database unavailable: {}",
            domain::db::unavailable_reason(&e)
        ))
    }
}

impl From<diesel::result::Error> for JobError {
    fn from(e: diesel::result::Error) -> Self {
        DomainError::from(e).into()
    }
}

/// Which task record an apalis task belongs to, and which attempt it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRef {
    /// The apalis task id (`{record}` or `{record}~{attempt}`).
    pub task_id: String,
    /// The id `task_status` knows.
    pub record_id: String,
    /// 1-based.
    pub attempt: u32,
}

impl TaskRef {
    pub fn parse(task_id: &TaskId) -> Self {
        Self::parse_str(&task_id.to_string())
    }

    pub fn parse_str(task_id: &str) -> Self {
        if let Some((record, n)) = task_id.rsplit_once(RETRY_SEPARATOR)
            && let Ok(attempt) = n.parse::<u32>()
            && attempt >= 2
        {
            return Self {
                task_id: task_id.to_owned(),
                record_id: record.to_owned(),
                attempt,
            };
        }
        Self {
            task_id: task_id.to_owned(),
            record_id: task_id.to_owned(),
            attempt: 1,
        }
    }

    pub fn retry_id(&self, attempt: u32) -> String {
        format!("{}{RETRY_SEPARATOR}{attempt}", self.record_id)
    }
}

/// Pushes `job` under `id`, to run after `delay`. A second push of the
/// same id is dropped by apalis-redis (HSETNX), so crash re-runs cannot
/// schedule twice.
pub async fn push_with_id<T>(
    storage: &RedisStorage<T>,
    job: T,
    id: &str,
    delay: Duration,
) -> Result<(), String>
where
    T: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static,
{
    let task = TaskBuilder::new(job)
        .task_id(TaskId::from_string(id.to_owned()))
        .run_after(delay)
        .build();
    storage
        .clone()
        .push_task(task)
        .await
        .map_err(|e| e.to_string())
}

/// Static facts about the task being run.
pub struct TaskInfo<'a, T> {
    pub job_name: &'static str,
    pub task: &'a TaskRef,
    pub payment_id: Option<PaymentId>,
    /// Where a retry is pushed, and the payload it carries.
    pub retry_on: &'a RedisStorage<T>,
    pub job: &'a T,
}

/// Counts how often this exact task has been started; apalis re-runs the
/// jobs of a dead worker without counting attempts, so a job that kills its
/// worker would otherwise loop forever.
async fn count_start(ctx: &AppContext, task_id: &str) -> Option<u32> {
    let key = format!("{}worker:starts:{task_id}", ctx.queue.prefix());
    let mut conn = ctx.queue.redis();
    let (n,): (u32,) = redis::pipe()
        .atomic()
        .incr(&key, 1)
        .expire(&key, 86_400)
        .ignore()
        .query_async(&mut conn)
        .await
        .ok()?;
    Some(n)
}

async fn record(
    ctx: &AppContext,
    id: &str,
    state: TaskState,
    attempt: u32,
    result: Option<&Value>,
    error: Option<&str>,
) {
    let attempt = i32::try_from(attempt).unwrap_or(i32::MAX);
    // The job's work is already done: a record lost to a dropped connection
    // or a PostgreSQL restart would say STARTED forever (found by
    // scripts/chaos), so the write is retried for a while; it is idempotent.
    let mut delay = RECORD_FIRST_DELAY;
    for tries_left in (0..RECORD_TRIES).rev() {
        let written = match ctx.pool.get().await {
            Ok(mut conn) => TaskRecord::transition(&mut conn, id, state, attempt, result, error)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let Err(e) = written else { return };
        tracing::warn!(target: "payments", task_id = id, state = state.as_str(), error = %e,
            tries_left, "could not record the task state");
        if tries_left > 0 {
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
}

/// About 25 s of retries in all: longer than a PostgreSQL restart.
const RECORD_TRIES: u32 = 8;
const RECORD_FIRST_DELAY: std::time::Duration = std::time::Duration::from_millis(200);

enum Start {
    Run,
    /// Already finished: a duplicate delivery.
    Finished(Box<TaskRecord>),
}

/// Marks the task STARTED (one statement), unless it already finished.
async fn start<T>(ctx: &AppContext, info: &TaskInfo<'_, T>) -> Result<Start, String> {
    let mut conn = ctx.pool.get().await.map_err(|e| e.to_string())?;
    let task = info.task;
    let attempt = i32::try_from(task.attempt).unwrap_or(i32::MAX);
    let started = TaskRecord::start(
        &mut conn,
        &task.record_id,
        info.job_name,
        info.payment_id,
        attempt,
    )
    .await
    .map_err(|e| e.to_string())?;
    if started.is_some() {
        return Ok(Start::Run);
    }
    match TaskRecord::find(&mut conn, &task.record_id).await {
        Ok(Some(done)) => Ok(Start::Finished(Box::new(done))),
        Ok(None) => Err(format!("task record {} vanished", task.record_id)),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs `work` as the task `info` describes and records every step.
///
/// Every line the job logs is inside an INFO span naming the task (the
/// id `task_status` takes), the job and the payment when known, so
/// `RUST_LOG=warn,payments=info` keeps them on the lines it keeps.
pub async fn run_tracked<T, F>(
    ctx: &AppContext,
    info: TaskInfo<'_, T>,
    work: F,
) -> Result<Value, BoxDynError>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + Unpin + 'static,
    F: Future<Output = Result<Value, JobError>> + Send,
{
    let span = tracing::info_span!(
        target: "payments",
        "job",
        task_id = %info.task.task_id,
        job = info.job_name,
        attempt = info.task.attempt,
        payment_id = info.payment_id.map(tracing::field::display),
    );
    track(ctx, info, work).instrument(span).await
}

async fn track<T, F>(ctx: &AppContext, info: TaskInfo<'_, T>, work: F) -> Result<Value, BoxDynError>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + Unpin + 'static,
    F: Future<Output = Result<Value, JobError>> + Send,
{
    let started = Instant::now();
    let task = info.task;
    match start(ctx, &info).await {
        Ok(Start::Finished(done)) => {
            tracing::info!(target: "payments", task_id = %task.task_id, job = info.job_name,
                state = %done.status, "task already finished; duplicate delivery ignored");
            m::job_finished(info.job_name, "duplicate", started.elapsed());
            return Ok(json!({ "duplicate": true, "state": done.status, "result": done.result }));
        }
        Ok(Start::Run) => {}
        Err(e) => {
            tracing::warn!(target: "payments", task_id = %task.task_id, error = %e,
                "database unavailable before the task started");
            return retry_or_fail(ctx, &info, JobError::Transient(e), started).await;
        }
    }
    let starts = count_start(ctx, &task.task_id).await.unwrap_or(1);
    if starts > ctx.config.retry.max_starts {
        let error = format!(
            "the worker died {} times while running this task",
            starts - 1
        );
        return fail(ctx, &info, &error, started).await;
    }
    m::job_started(info.job_name);
    let outcome = AssertUnwindSafe(work).catch_unwind().await;
    let outcome = outcome.unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "unknown panic".to_owned());
        Err(JobError::Permanent(format!(
            "the handler panicked: {message}"
        )))
    });
    match outcome {
        Ok(result) => {
            record(
                ctx,
                &task.record_id,
                TaskState::Success,
                task.attempt,
                Some(&result),
                None,
            )
            .await;
            m::job_finished(info.job_name, "success", started.elapsed());
            Ok(result)
        }
        Err(e) => retry_or_fail(ctx, &info, e, started).await,
    }
}

async fn retry_or_fail<T>(
    ctx: &AppContext,
    info: &TaskInfo<'_, T>,
    error: JobError,
    started: Instant,
) -> Result<Value, BoxDynError>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + Unpin + 'static,
{
    let task = info.task;
    let policy = ctx.config.retry;
    let message = error.to_string();
    if let JobError::Permanent(_) = error {
        return fail(ctx, info, &message, started).await;
    }
    if task.attempt >= policy.max_attempts {
        if let JobError::Waiting(_) = error {
            return hand_to_sweep(ctx, info, &message, started).await;
        }
        let message = format!("gave up after {} attempts: {message}", task.attempt);
        return fail(ctx, info, &message, started).await;
    }
    let next = task.attempt + 1;
    let delay = policy.backoff(next);
    let retry_id = task.retry_id(next);
    record(
        ctx,
        &task.record_id,
        TaskState::Retry,
        task.attempt,
        None,
        Some(&message),
    )
    .await;
    m::job_finished(info.job_name, "retry", started.elapsed());
    if let Err(e) = push_with_id(info.retry_on, info.job.clone(), &retry_id, delay).await {
        // Redis is failing too: let apalis keep the task (its own retry, or
        // orphan recovery once the worker restarts).
        return Err(format!("{message}; and the retry could not be scheduled: {e}").into());
    }
    tracing::warn!(target: "payments", task_id = %task.task_id, job = info.job_name,
        attempt = task.attempt, next_attempt = next, delay_secs = delay.as_secs_f64(),
        error = %message, "transient failure; retry scheduled");
    Ok(json!({ "retry_scheduled": retry_id, "in_secs": delay.as_secs_f64(), "error": message }))
}

/// A task whose payload is not a job this build knows (pushed by hand, or
/// by a newer/older release): recorded as FAILURE and killed, instead of
/// being dropped by apalis's decoder and left in a worker's inflight set.
pub async fn reject_unreadable(
    ctx: &AppContext,
    task: &TaskRef,
    queue: &'static str,
    error: &serde_json::Error,
) -> Result<Value, BoxDynError> {
    let message = format!("unreadable job payload on {queue}: {error}");
    tracing::error!(target: "payments", task_id = %task.task_id, error = %message, "task rejected");
    end_failed(
        ctx,
        task,
        message,
        ("unreadable", "failure"),
        Duration::ZERO,
    )
    .await
}

/// An event whose session is still unknown after every attempt: the task
/// ends (FAILURE, saying why and what happens next), counted as outcome
/// `waiting`; the event stays stored and the sweep retries it.
async fn hand_to_sweep<T>(
    ctx: &AppContext,
    info: &TaskInfo<'_, T>,
    error: &str,
    started: Instant,
) -> Result<Value, BoxDynError> {
    let task = info.task;
    let message = format!(
        "{error}; after {} attempts the stored event is left to the sweep, which retries it on every run",
        task.attempt
    );
    tracing::warn!(target: "payments", task_id = %task.task_id, job = info.job_name,
        attempt = task.attempt, error, "event for an unknown session left to the sweep");
    let counted = (info.job_name, "waiting");
    end_failed(ctx, task, message, counted, started.elapsed()).await
}

async fn fail<T>(
    ctx: &AppContext,
    info: &TaskInfo<'_, T>,
    error: &str,
    started: Instant,
) -> Result<Value, BoxDynError> {
    let task = info.task;
    tracing::error!(target: "payments", task_id = %task.task_id, job = info.job_name,
        attempt = task.attempt, error, "task failed");
    let counted = (info.job_name, "failure");
    end_failed(ctx, task, error.to_owned(), counted, started.elapsed()).await
}

/// Records the task FAILURE with `message`, counts it as `(job, outcome)`
/// and tells apalis not to run it again.
async fn end_failed(
    ctx: &AppContext,
    task: &TaskRef,
    message: String,
    (job, outcome): (&'static str, &'static str),
    took: Duration,
) -> Result<Value, BoxDynError> {
    record(
        ctx,
        &task.record_id,
        TaskState::Failure,
        task.attempt,
        None,
        Some(&message),
    )
    .await;
    m::job_finished(job, outcome, took);
    Err(Box::new(AbortError::new(message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_ids_carry_the_record_and_the_attempt() {
        let first = TaskRef::parse_str("01JABCDEF");
        assert_eq!(first.record_id, "01JABCDEF");
        assert_eq!(first.attempt, 1);
        let third = TaskRef::parse_str(&first.retry_id(3));
        assert_eq!(third.task_id, "01JABCDEF~3");
        assert_eq!(third.record_id, "01JABCDEF");
        assert_eq!(third.attempt, 3);
        let odd = TaskRef::parse_str("sweep-chain:t:1");
        assert_eq!(odd.record_id, "sweep-chain:t:1");
        assert_eq!(odd.attempt, 1);
    }
}
