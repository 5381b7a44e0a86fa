//! The self-rescheduling sweep chain (SPEC §5.4), at most one of it.
//!
//! The chain lives in the Redis hash `{prefix}sweep:chain`: the current
//! `token` and the `task_id` of its one scheduled link, plus the heartbeat
//! (`next_run_at`, `last_run_at`, `last_outcome`). Every change goes through
//! a Lua script, so it is atomic across workers:
//! - `ensure` creates the hash only if it is missing (SET NX);
//! - `replace` installs a new token and unschedules the old link;
//! - `replace_if` does so only while the token is still the one seen (the
//!   dead-man switch of several workers re-seeds once);
//! - `advance` moves the chain from link N to link N+1 only if the running
//!   link is still the current one (compare-and-swap).
//!
//! Link ids are deterministic (`sweep-chain:{token}:{seq}`), so a link that
//! is re-run after a crash pushes the same next link, which apalis-redis
//! drops as a duplicate (HSETNX). A link whose token or id is no longer the
//! current one stops without rescheduling.

use crate::context::AppContext;
use crate::error::WorkerError;
use crate::metrics as m;
use crate::queue::{JobQueue, queue_config};
use crate::tasks::push_with_id;
use diesel_async::AsyncPgConnection;
use domain::jobs::{CleanExpiredSessions, SWEEP_QUEUE, SweepTrigger};
use domain::models::sweep_run::SweepRun;
use domain::models::task::{TaskRecord, TaskState};
use redis::Script;
use serde::Serialize;
use serde_json::json;
use std::sync::LazyLock;
use std::time::Duration;
use time::OffsetDateTime;

const LINK_PREFIX: &str = "sweep-chain";

static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: chain hash, scheduled zset, data hash, meta prefix
-- ARGV: mode, token, task_id, next_run_at, dry_run, now, expected_token
local current = redis.call('HGET', KEYS[1], 'token')
local mode = ARGV[1]
if current then
  local old = redis.call('HGET', KEYS[1], 'task_id') or ''
  if mode == 'ensure' or (mode == 'replace_if' and current ~= ARGV[7]) then
    return {0, current, old}
  end
  if old ~= '' and redis.call('ZREM', KEYS[2], old) == 1 then
    redis.call('HDEL', KEYS[3], old)
    redis.call('DEL', KEYS[4] .. ':' .. old)
  end
elseif mode == 'replace_if' and ARGV[7] ~= '' then
  return {0, '', ''}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'token', ARGV[2], 'task_id', ARGV[3], 'seq', 1,
  'next_run_at', ARGV[4], 'dry_run', ARGV[5], 'created_at', ARGV[6])
return {1, current or '', ARGV[3]}
",
    )
});

static ADVANCE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: chain hash
-- ARGV: token, current task id, next task id, next seq, next_run_at, now, outcome
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
local current = redis.call('HGET', KEYS[1], 'task_id')
-- a second run of the same link (orphan re-run) already advanced it
if current == ARGV[3] then return 2 end
if current ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'task_id', ARGV[3], 'seq', ARGV[4], 'next_run_at', ARGV[5],
  'last_run_at', ARGV[6], 'last_outcome', ARGV[7])
return 1
",
    )
});

static UNSCHEDULE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: scheduled zset, data hash, meta prefix; ARGV: task id
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('DEL', KEYS[3] .. ':' .. ARGV[1])
  return 1
end
return 0
",
    )
});

pub fn chain_key(prefix: &str) -> String {
    format!("{prefix}sweep:chain")
}

pub fn link_id(token: &str, seq: u64) -> String {
    format!("{LINK_PREFIX}:{token}:{seq}")
}

/// The sequence number of a link id.
pub fn link_seq(task_id: &str) -> Option<u64> {
    task_id
        .strip_prefix(LINK_PREFIX)?
        .rsplit(':')
        .next()?
        .parse()
        .ok()
}

fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

struct SweepKeys {
    scheduled: String,
    data: String,
    meta: String,
}

fn sweep_keys(prefix: &str) -> SweepKeys {
    let config = queue_config(prefix, SWEEP_QUEUE);
    SweepKeys {
        scheduled: config.scheduled_jobs_set(),
        data: config.job_data_hash(),
        meta: config.job_meta_hash(),
    }
}

/// What [`ensure_chain`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ChainEnsured {
    /// No chain existed: this call started it.
    Started { token: String, task_id: String },
    /// A chain exists; nothing was added.
    AlreadyRunning { token: String, task_id: String },
    /// The previous chain was replaced (its scheduled link removed).
    Replaced {
        previous_token: String,
        token: String,
        task_id: String,
    },
}

impl ChainEnsured {
    pub fn task_id(&self) -> &str {
        match self {
            ChainEnsured::Started { task_id, .. }
            | ChainEnsured::AlreadyRunning { task_id, .. }
            | ChainEnsured::Replaced { task_id, .. } => task_id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode<'a> {
    Ensure,
    Replace,
    ReplaceIf(&'a str),
}

/// Options of [`ensure_chain_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChainRequest {
    /// Until the first link runs (none: at once).
    pub delay: Option<Duration>,
    /// Replace an existing chain instead of leaving it alone.
    pub replace: bool,
    /// The chain only reports what it would do.
    pub dry_run: bool,
}

/// Ensures the single sweep chain exists (`replace = false`), or replaces
/// it with a new one (`replace = true`: the old link is unscheduled and any
/// of its runs stops). Never adds a second chain. Used at worker start and by
/// `manage start_auto_cleanup`.
pub async fn ensure_chain(
    queue: &JobQueue,
    db: &mut AsyncPgConnection,
    delay: Option<Duration>,
    replace: bool,
) -> Result<ChainEnsured, WorkerError> {
    let request = ChainRequest {
        delay,
        replace,
        dry_run: false,
    };
    ensure_chain_with(queue, db, request).await
}

pub async fn ensure_chain_with(
    queue: &JobQueue,
    db: &mut AsyncPgConnection,
    request: ChainRequest,
) -> Result<ChainEnsured, WorkerError> {
    let mode = if request.replace {
        Mode::Replace
    } else {
        Mode::Ensure
    };
    seed(
        queue,
        db,
        mode,
        request.delay.unwrap_or_default(),
        request.dry_run,
    )
    .await
}

async fn seed(
    queue: &JobQueue,
    db: &mut AsyncPgConnection,
    mode: Mode<'_>,
    delay: Duration,
    dry_run: bool,
) -> Result<ChainEnsured, WorkerError> {
    let token = ulid::Ulid::generate().to_string().to_lowercase();
    let task_id = link_id(&token, 1);
    let next_run_at = now_unix() + i64::try_from(delay.as_secs()).unwrap_or(i64::MAX / 2);
    let keys = sweep_keys(queue.prefix());
    let (mode_name, expected) = match mode {
        Mode::Ensure => ("ensure", ""),
        Mode::Replace => ("replace", ""),
        Mode::ReplaceIf(t) => ("replace_if", t),
    };
    let mut conn = queue.redis();
    let (claimed, previous, current_task): (i64, String, String) = CLAIM
        .key(chain_key(queue.prefix()))
        .key(&keys.scheduled)
        .key(&keys.data)
        .key(&keys.meta)
        .arg(mode_name)
        .arg(&token)
        .arg(&task_id)
        .arg(next_run_at)
        .arg(i32::from(dry_run))
        .arg(now_unix())
        .arg(expected)
        .invoke_async(&mut conn)
        .await?;
    if claimed == 0 {
        return Ok(ChainEnsured::AlreadyRunning {
            token: previous,
            task_id: current_task,
        });
    }
    if !previous.is_empty() {
        supersede_records(db, &previous).await;
    }
    TaskRecord::create(db, &task_id, CleanExpiredSessions::NAME, None, None).await?;
    let job = link_job(&token, dry_run);
    push_with_id(&queue.sweep_storage(), job, &task_id, delay)
        .await
        .map_err(WorkerError::Push)?;
    tracing::info!(target: "payments", %token, %task_id, delay_secs = delay.as_secs(),
        replaced = !previous.is_empty(), "sweep chain seeded");
    Ok(if previous.is_empty() {
        ChainEnsured::Started { token, task_id }
    } else {
        ChainEnsured::Replaced {
            previous_token: previous,
            token,
            task_id,
        }
    })
}

fn link_job(token: &str, dry_run: bool) -> CleanExpiredSessions {
    CleanExpiredSessions {
        trigger: SweepTrigger::Chain,
        dry_run,
        force: false,
        chain_token: Some(token.to_owned()),
    }
}

/// Closes the task records of a replaced chain's pending links.
async fn supersede_records(db: &mut AsyncPgConnection, previous_token: &str) {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use domain::schema::task_records;
    let pending: Vec<String> = task_records::table
        .filter(task_records::id.like(format!("{LINK_PREFIX}:{previous_token}:%")))
        .filter(task_records::status.eq_any(["PENDING", "RETRY"]))
        .select(task_records::id)
        .load(db)
        .await
        .unwrap_or_default();
    let result = json!({ "status": "superseded" });
    for id in pending {
        let _ = TaskRecord::transition(db, &id, TaskState::Success, 0, Some(&result), None).await;
    }
}

/// Whether a running link is the chain's current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkCheck {
    Current,
    /// Another chain (token) took over, or the chain key is gone.
    Superseded,
}

pub async fn check_link(
    queue: &JobQueue,
    token: &str,
    task_id: &str,
) -> Result<LinkCheck, WorkerError> {
    let mut conn = queue.redis();
    let (current_token, current_task): (Option<String>, Option<String>) = redis::cmd("HMGET")
        .arg(chain_key(queue.prefix()))
        .arg("token")
        .arg("task_id")
        .query_async(&mut conn)
        .await?;
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

/// How the chain is doing, as the dead-man switch judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainHealth {
    Healthy,
    /// No chain key (never seeded, or Redis was flushed).
    Missing,
    /// The key names a link that no longer exists or finished without a
    /// successor.
    Lost,
    /// The next run is late beyond the grace period.
    Overdue,
}

impl ChainHealth {
    fn reason(self) -> &'static str {
        match self {
            ChainHealth::Healthy => "healthy",
            ChainHealth::Missing => "missing",
            ChainHealth::Lost => "lost",
            ChainHealth::Overdue => "overdue",
        }
    }
}

/// The chain as the CLI and the board show it.
#[derive(Debug, Clone, Serialize)]
pub struct ChainStatus {
    pub health: ChainHealth,
    pub token: Option<String>,
    pub task_id: Option<String>,
    pub seq: Option<u64>,
    pub dry_run: bool,
    /// apalis's status of the current link (`Pending`, `Running`, ...).
    pub link_status: Option<String>,
    /// The link waits in the scheduled set.
    pub scheduled: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_run_at: Option<OffsetDateTime>,
    /// Seconds the next run is late (negative: still ahead).
    pub overdue_by_secs: Option<i64>,
    pub last_outcome: Option<String>,
    /// The latest chain run recorded in PostgreSQL (the heartbeat).
    pub last_run: Option<SweepRun>,
    /// Seconds since that run finished.
    pub heartbeat_age_secs: Option<i64>,
}

/// Reads the chain's state from Redis and its heartbeat from PostgreSQL.
pub async fn chain_status(
    queue: &JobQueue,
    db: &mut AsyncPgConnection,
    grace: Duration,
) -> Result<ChainStatus, WorkerError> {
    let keys = sweep_keys(queue.prefix());
    let mut conn = queue.redis();
    let fields: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg(chain_key(queue.prefix()))
        .query_async(&mut conn)
        .await?;
    let task_id = fields.get("task_id").cloned();
    let (exists, link_status, score) = match &task_id {
        Some(id) => {
            let (exists, status, score): (bool, Option<String>, Option<f64>) = redis::pipe()
                .hexists(&keys.data, id)
                .hget(format!("{}:{id}", keys.meta), "status")
                .zscore(&keys.scheduled, id)
                .query_async(&mut conn)
                .await?;
            (exists, status, score)
        }
        None => (false, None, None),
    };
    let next_run_at = fields
        .get("next_run_at")
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
    let last_run = SweepRun::latest_chain_run(db).await?;
    let now = OffsetDateTime::now_utc();
    let heartbeat_age_secs = last_run
        .as_ref()
        .and_then(|r| r.finished_at)
        .map(|t| (now - t).whole_seconds());
    let overdue_by_secs = next_run_at.map(|t| (now - t).whole_seconds());
    let running = link_status.as_deref() == Some("Running");
    let grace_secs = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
    let health = if task_id.is_none() {
        ChainHealth::Missing
    } else if !exists || matches!(link_status.as_deref(), Some("Done" | "Killed" | "Failed")) {
        ChainHealth::Lost
    } else if !running && overdue_by_secs.is_some_and(|late| late > grace_secs) {
        ChainHealth::Overdue
    } else {
        ChainHealth::Healthy
    };
    Ok(ChainStatus {
        health,
        token: fields.get("token").cloned(),
        seq: task_id.as_deref().and_then(link_seq),
        task_id,
        dry_run: fields.get("dry_run").is_some_and(|v| v == "1"),
        link_status,
        scheduled: score.is_some(),
        next_run_at,
        overdue_by_secs,
        last_outcome: fields.get("last_outcome").cloned(),
        last_run,
        heartbeat_age_secs,
    })
}

/// One check of the dead-man switch: re-seed the chain when it is missing,
/// lost or overdue. Returns what was found (and repaired).
pub async fn deadman_check(ctx: &AppContext) -> Result<ChainHealth, WorkerError> {
    let mut db = ctx.pool.get().await?;
    let status = chain_status(&ctx.queue, &mut db, ctx.config.chain.overdue_grace).await?;
    m::chain_heartbeat(
        status.heartbeat_age_secs.map_or(-1.0, |s| s as f64),
        status.health == ChainHealth::Healthy,
    );
    if status.health == ChainHealth::Healthy {
        return Ok(status.health);
    }
    let mode = match (&status.health, &status.token) {
        (ChainHealth::Missing, _) | (_, None) => Mode::Ensure,
        (_, Some(token)) => Mode::ReplaceIf(token),
    };
    let seeded = seed(&ctx.queue, &mut db, mode, Duration::ZERO, status.dry_run).await?;
    if !matches!(seeded, ChainEnsured::AlreadyRunning { .. }) {
        m::chain_reseeded(status.health.reason());
        tracing::warn!(target: "payments", health = status.health.reason(),
            previous_task = ?status.task_id, next_run_at = ?status.next_run_at,
            new_task = seeded.task_id(),
            "dead-man switch: the sweep chain was {}; re-seeded it", status.health.reason());
    }
    Ok(status.health)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_ids_carry_their_sequence() {
        let id = link_id("01abc", 7);
        assert_eq!(id, "sweep-chain:01abc:7");
        assert_eq!(link_seq(&id), Some(7));
        assert_eq!(link_seq("01JX"), None);
    }
}
