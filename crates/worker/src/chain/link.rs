//! A link's side of the chain: am I current, schedule my successor.

use super::scripts::{ADVANCE, UNSCHEDULE};
use super::{chain_key, link_id, link_job, link_seq, now_unix, sweep_keys};
use crate::context::AppContext;
use crate::error::WorkerError;
use crate::queue::JobQueue;
use crate::tasks::push_with_id;
use domain::jobs::CleanExpiredSessions;
use domain::models::sweep_run::SweepRun;
use domain::models::task::TaskRecord;
use std::time::Duration;
use time::OffsetDateTime;

/// Whether a running link is the chain's current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkCheck {
    Current,
    /// Another chain (token) took over, or the chain key is gone.
    Superseded,
}

/// The chain's token and current link, if a chain exists.
pub(super) async fn current_link(
    queue: &JobQueue,
) -> Result<(Option<String>, Option<String>), WorkerError> {
    let mut conn = queue.redis();
    Ok(redis::cmd("HMGET")
        .arg(chain_key(queue.prefix()))
        .arg("token")
        .arg("task_id")
        .query_async(&mut conn)
        .await?)
}

pub async fn check_link(
    queue: &JobQueue,
    token: &str,
    task_id: &str,
) -> Result<LinkCheck, WorkerError> {
    let (current_token, current_task) = current_link(queue).await?;
    Ok(
        if current_token.as_deref() == Some(token) && current_task.as_deref() == Some(task_id) {
            LinkCheck::Current
        } else {
            LinkCheck::Superseded
        },
    )
}

/// After link `task_id` ran: push link N+1 after `delay`, then move the
/// chain to it if `task_id` is still current. Push first: a crash between
/// the two re-runs this link, which pushes the same id again (dropped).
/// Returns the next link's id, or `None` if the chain was superseded. A
/// duplicate run of the same link finds the chain already advanced to the
/// same next id and leaves it alone.
pub async fn schedule_next(
    ctx: &AppContext,
    token: &str,
    task_id: &str,
    delay: Duration,
    outcome: &str,
    dry_run: bool,
) -> Result<Option<String>, WorkerError> {
    let queue = &ctx.queue;
    let seq = link_seq(task_id).unwrap_or(0) + 1;
    let next = link_id(token, seq);
    let storage = queue.sweep_storage();
    push_with_id(&storage, link_job(token, dry_run), &next, delay)
        .await
        .map_err(WorkerError::Push)?;
    let now = now_unix();
    let next_run_at = now + i64::try_from(delay.as_secs()).unwrap_or(i64::MAX / 2);
    let mut conn = queue.redis();
    let advanced: i64 = ADVANCE
        .key(chain_key(queue.prefix()))
        .arg(token)
        .arg(task_id)
        .arg(&next)
        .arg(seq)
        .arg(next_run_at)
        .arg(now)
        .arg(outcome)
        .invoke_async(&mut conn)
        .await?;
    if advanced == 0 {
        unschedule(queue, &next).await?;
        return Ok(None);
    }
    let mut db = ctx.pool.get().await?;
    TaskRecord::create(&mut db, &next, CleanExpiredSessions::NAME, None, None).await?;
    Ok(Some(next))
}

/// Removes a task that is still only scheduled (not yet due or fetched).
pub async fn unschedule(queue: &JobQueue, task_id: &str) -> Result<bool, WorkerError> {
    let keys = sweep_keys(queue.prefix());
    let mut conn = queue.redis();
    let removed: i64 = UNSCHEDULE
        .key(&keys.scheduled)
        .key(&keys.data)
        .key(&keys.meta)
        .arg(task_id)
        .invoke_async(&mut conn)
        .await?;
    Ok(removed == 1)
}

/// Records in the run's heartbeat row when the chain runs next.
pub async fn record_next_run(
    ctx: &AppContext,
    run_id: Option<uuid::Uuid>,
    delay: Duration,
) -> Result<(), WorkerError> {
    let Some(run_id) = run_id else {
        return Ok(());
    };
    let next = OffsetDateTime::now_utc() + time::Duration::try_from(delay).unwrap_or_default();
    let mut db = ctx.pool.get().await?;
    SweepRun::set_next_run(&mut db, run_id, next).await?;
    Ok(())
}
