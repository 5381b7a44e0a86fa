//! Nothing grows forever: finished task records and idle sweep runs in
//! PostgreSQL, and
//! apalis-redis's finished tasks (data, meta, the `done`/`dead` sets) and
//! the metadata of workers long gone. Nothing stays `running` forever
//! either: sweep runs a killed worker left open are closed.
//!
//! apalis's own `vacuum` is not used: it also deletes `Failed` tasks that
//! wait for a retry, and the later fetch kills the worker. This prune only
//! looks at ids in the `done` and `dead` sets, whose tasks are final.

use crate::context::AppContext;
use crate::error::WorkerError;
use crate::metrics as m;
use crate::queue::queue_config;
use crate::tasks::TaskRef;
use domain::jobs::{PAYMENTS_QUEUE, SWEEP_QUEUE};
use domain::models::stripe_call::StripeCall;
use domain::models::sweep_run::SweepRun;
use domain::models::task::TaskRecord;
use redis::Script;
use redis::aio::ConnectionManager;
use std::sync::LazyLock;
use std::time::Duration;
use time::OffsetDateTime;

static PRUNE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: a finished set (done or dead), data hash, meta prefix
-- ARGV: cutoff (unix seconds), batch limit
local cutoff = tonumber(ARGV[1])
local ids = redis.call('SRANDMEMBER', KEYS[1], tonumber(ARGV[2]))
local deleted = 0
for _, id in ipairs(ids) do
  local meta = KEYS[3] .. ':' .. id
  local done_at = tonumber(redis.call('HGET', meta, 'done_at') or '0') or 0
  local status = redis.call('HGET', meta, 'status')
  if status == false or status == 'Done' or status == 'Killed' or status == 'Failed' then
    if done_at <= cutoff then
      redis.call('HDEL', KEYS[2], id)
      redis.call('DEL', meta)
      redis.call('SREM', KEYS[1], id)
      deleted = deleted + 1
    end
  end
end
return deleted
",
    )
});

/// Deletes sweep runs that found nothing at all (the idle chain's runs, one
/// every 15 minutes) finished before `before`, keeping the latest chain run
/// (the heartbeat). Runs that found or did anything are kept: they are the
/// history SPEC §5.4 wants visible.
pub async fn prune_idle_sweep_runs(
    db: &mut diesel_async::AsyncPgConnection,
    before: OffsetDateTime,
) -> Result<usize, WorkerError> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use domain::schema::sweep_runs as r;
    let latest = domain::models::sweep_run::SweepRun::latest_chain_run(db)
        .await?
        .map(|run| run.id);
    let mut query = diesel::delete(r::table)
        .filter(r::outcome.eq("idle"))
        .filter(r::finished_at.lt(before))
        .filter(r::found.eq(0))
        .filter(r::events_processed.eq(0))
        .filter(r::expiries_retried.eq(0))
        .filter(r::errors.eq(0))
        .into_boxed();
    if let Some(latest) = latest {
        query = query.filter(r::id.ne(latest));
    }
    Ok(query.execute(db).await?)
}

/// A sweep run still `running` this long after it started was interrupted
/// (its worker was killed before the run could finish). Generous: a run
/// handles at most its batch limit of payments and events, with bounded
/// Stripe calls, in minutes at worst.
pub const INTERRUPTED_RUN_AFTER: Duration = Duration::from_secs(3600);

/// Closes the sweep runs left `running` by a killed worker as `error`,
/// so that their history does not show them running forever.
pub async fn close_interrupted_sweep_runs(
    db: &mut diesel_async::AsyncPgConnection,
    now: OffsetDateTime,
) -> Result<usize, WorkerError> {
    let started_before = now - time::Duration::try_from(INTERRUPTED_RUN_AFTER).unwrap_or_default();
    let closed = SweepRun::close_interrupted(db, started_before).await?;
    for run_id in &closed {
        tracing::warn!(target: "payments", %run_id,
            "sweep run interrupted (its worker stopped mid-run); closed as error");
    }
    Ok(closed.len())
}

/// What one maintenance pass deleted (or closed).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cleaned {
    pub task_records: usize,
    pub idle_sweep_runs: usize,
    pub interrupted_sweep_runs: usize,
    pub redis_tasks: u64,
    pub worker_keys: u64,
}

/// Deletes apalis's finished tasks whose `done_at` is at or before
/// `cutoff` (unix seconds), on both queues of `prefix`.
pub async fn prune_redis(
    conn: &mut ConnectionManager,
    prefix: &str,
    cutoff: i64,
) -> Result<u64, WorkerError> {
    let mut total = 0;
    for queue in [PAYMENTS_QUEUE, SWEEP_QUEUE] {
        let config = queue_config(prefix, queue);
        for set in [config.done_jobs_set(), config.dead_jobs_set()] {
            // Bounded batches keep each script short; stop when a batch
            // deletes nothing (the rest is younger than the cutoff).
            for _ in 0..100 {
                let deleted: u64 = PRUNE
                    .key(&set)
                    .key(config.job_data_hash())
                    .key(config.job_meta_hash())
                    .arg(cutoff)
                    .arg(500)
                    .invoke_async(conn)
                    .await?;
                total += deleted;
                if deleted == 0 {
                    break;
                }
            }
        }
    }
    Ok(total)
}

/// Deletes `{queue}:workers:metadata:<name>` of workers no longer in the
/// workers set (each process has a unique name, so these would pile up).
pub async fn prune_worker_keys(
    conn: &mut ConnectionManager,
    prefix: &str,
) -> Result<u64, WorkerError> {
    let mut deleted = 0;
    for queue in [PAYMENTS_QUEUE, SWEEP_QUEUE] {
        let config = queue_config(prefix, queue);
        let pattern_prefix = format!("{}:workers:metadata:", config.queue);
        let keys: Vec<String> = {
            let mut iter: redis::AsyncIter<String> = redis::AsyncCommands::scan_match(
                conn,
                format!("{}*", escape_glob(&pattern_prefix)),
            )
            .await?;
            let mut keys = Vec::new();
            while let Some(item) = futures::StreamExt::next(&mut iter).await {
                keys.push(item?);
            }
            keys
        };
        for key in keys {
            let name = &key[pattern_prefix.len()..];
            let alive: Option<f64> = redis::cmd("ZSCORE")
                .arg(config.workers_set())
                .arg(name)
                .query_async(conn)
                .await?;
            if alive.is_none() {
                let n: u64 = redis::cmd("DEL").arg(&key).query_async(conn).await?;
                deleted += n;
            }
        }
    }
    Ok(deleted)
}

fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A PENDING task whose job is not in Redis this long after it was
/// recorded will never run (the push happens right after the record).
pub const LOST_TASK_GRACE: Duration = Duration::from_secs(60);

/// Closes as FAILURE the unfinished task records whose job vanished from
/// Redis (a restart without persistence, a flush; a job in flight when it
/// happened is gone too, orphan recovery included): they would otherwise
/// say PENDING / STARTED / RETRY forever. Chain links are the dead-man
/// switch's; webhook events whose job was lost are still processed by the
/// sweep.
pub async fn close_lost_tasks(ctx: &AppContext) -> Result<u64, WorkerError> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use domain::jobs::CleanExpiredSessions;
    use domain::models::task::TaskState;
    use domain::schema::task_records as t;
    let cutoff =
        OffsetDateTime::now_utc() - time::Duration::try_from(LOST_TASK_GRACE).unwrap_or_default();
    let mut db = ctx.pool.get().await?;
    let pending: Vec<(String, String, String, i32)> = t::table
        .filter(t::status.eq_any(["PENDING", "STARTED", "RETRY"]))
        .filter(t::updated_at.lt(cutoff))
        .filter(t::id.not_like("sweep-chain:%"))
        .select((t::id, t::job_name, t::status, t::attempts))
        .limit(1000)
        .load(&mut db)
        .await?;
    let mut conn = ctx.queue.redis();
    let mut closed = 0;
    for (id, job, status, attempts) in pending {
        // The apalis task carrying the record's current (or next) attempt.
        let attempt = u32::try_from(attempts).unwrap_or(0) + u32::from(status == "RETRY");
        let task_id = if attempt >= 2 {
            TaskRef::parse_str(&id).retry_id(attempt)
        } else {
            id.clone()
        };
        let queue = if job == CleanExpiredSessions::NAME {
            SWEEP_QUEUE
        } else {
            PAYMENTS_QUEUE
        };
        let config = queue_config(ctx.queue.prefix(), queue);
        let exists: bool = redis::cmd("HEXISTS")
            .arg(config.job_data_hash())
            .arg(&task_id)
            .query_async(&mut conn)
            .await?;
        if !exists {
            tracing::warn!(target: "payments", task_id = %id, job = %job,
                "task lost with Redis's data; closed as FAILURE");
            let error =
                "lost: its job vanished from Redis (restarted without persistence or flushed)";
            TaskRecord::transition(&mut db, &id, TaskState::Failure, 0, None, Some(error)).await?;
            closed += 1;
        }
    }
    Ok(closed)
}

/// One pass: task records and Redis data finished longer than the
/// retention ago.
pub async fn run_once(ctx: &AppContext) -> Result<Cleaned, WorkerError> {
    let retention = ctx.config.task_retention;
    let before =
        OffsetDateTime::now_utc() - time::Duration::try_from(retention).unwrap_or_default();
    let mut db = ctx.pool.get().await?;
    let task_records = TaskRecord::delete_finished_before(&mut db, before).await?;
    let idle_sweep_runs = prune_idle_sweep_runs(&mut db, before).await?;
    let interrupted_sweep_runs =
        close_interrupted_sweep_runs(&mut db, OffsetDateTime::now_utc()).await?;
    let stripe_calls = StripeCall::delete_before(&mut db, before).await?;
    m::cleaned("stripe_calls", stripe_calls as u64);
    drop(db);
    let mut conn = ctx.queue.redis();
    let redis_tasks = prune_redis(&mut conn, ctx.queue.prefix(), before.unix_timestamp()).await?;
    let worker_keys = prune_worker_keys(&mut conn, ctx.queue.prefix()).await?;
    m::cleaned("lost_tasks", close_lost_tasks(ctx).await?);
    let cleaned = Cleaned {
        task_records,
        idle_sweep_runs,
        interrupted_sweep_runs,
        redis_tasks,
        worker_keys,
    };
    m::cleaned("task_records", task_records as u64);
    m::cleaned("idle_sweep_runs", idle_sweep_runs as u64);
    m::cleaned("interrupted_sweep_runs", interrupted_sweep_runs as u64);
    m::cleaned("redis_tasks", redis_tasks);
    m::cleaned("worker_keys", worker_keys);
    if cleaned != Cleaned::default() {
        tracing::info!(target: "payments", task_records, idle_sweep_runs, interrupted_sweep_runs,
            redis_tasks, worker_keys, "old finished tasks cleaned up");
    }
    Ok(cleaned)
}

/// Runs [`run_once`] every `interval` until `stop` fires.
pub async fn run_loop(
    ctx: std::sync::Arc<AppContext>,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if let Err(e) = run_once(&ctx).await {
            tracing::warn!(target: "payments", error = %e, "maintenance pass failed");
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
