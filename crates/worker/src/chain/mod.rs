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
mod health;
mod link;
mod scripts;

pub use health::{ChainHealth, ChainStatus, chain_status, deadman_check};
pub use link::{LinkCheck, check_link, record_next_run, schedule_next, unschedule};

use crate::error::WorkerError;
use crate::queue::{JobQueue, queue_config};
use crate::tasks::push_with_id;
use diesel_async::AsyncPgConnection;
use domain::jobs::{CleanExpiredSessions, SWEEP_QUEUE, SweepTrigger};
use domain::models::task::{TaskRecord, TaskState};
use scripts::CLAIM;
use serde::Serialize;
use serde_json::json;
use std::time::Duration;
use time::OffsetDateTime;

const LINK_PREFIX: &str = "sweep-chain";

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
    /// Its `result` in JSON.
    pub fn result(&self) -> &'static str {
        match self {
            ChainEnsured::Started { .. } => "started",
            ChainEnsured::AlreadyRunning { .. } => "already_running",
            ChainEnsured::Replaced { .. } => "replaced",
        }
    }

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
    if previous.is_empty() {
        close_lost_links(db).await;
    } else {
        supersede_records(db, &previous).await;
    }
    TaskRecord::create(db, &task_id, CleanExpiredSessions::NAME, None, None).await?;
    let job = link_job(&token, dry_run);
    push_with_id(&queue.sweep_storage(), job, &task_id, delay)
        .await
        .map_err(WorkerError::Push)?;
    // A concurrent replace that claimed the chain between our claim and
    // our push could not unschedule a link that was not there yet; every
    // later replace will find it. So the link just pushed is checked once:
    // if the chain has moved on, it is withdrawn here (tokens are unique,
    // the chain never comes back to ours).
    if let Some(winner) = superseded_since_claim(queue, &token).await? {
        link::unschedule(queue, &task_id).await?;
        supersede_records(db, &token).await;
        return Ok(winner);
    }
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

/// The chain that took over from `token`, if one did. A chain key gone
/// altogether (Redis lost its data) is not a takeover: the link stays, and
/// stops when it finds no chain; the dead-man switch re-seeds.
async fn superseded_since_claim(
    queue: &JobQueue,
    token: &str,
) -> Result<Option<ChainEnsured>, WorkerError> {
    let (current_token, current_task) = link::current_link(queue).await?;
    Ok(match current_token {
        Some(current) if current != token => Some(ChainEnsured::AlreadyRunning {
            token: current,
            task_id: current_task.unwrap_or_default(),
        }),
        _ => None,
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

/// No chain existed, yet links may wait as PENDING in PostgreSQL: their
/// jobs vanished with Redis's data (a restart without persistence, a
/// flush). They will never run; say so rather than leave them PENDING
/// forever in `task_status`.
async fn close_lost_links(db: &mut AsyncPgConnection) {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use domain::schema::task_records;
    let lost: Vec<String> = task_records::table
        .filter(task_records::id.like(format!("{LINK_PREFIX}:%")))
        .filter(task_records::status.eq_any(["PENDING", "RETRY"]))
        .select(task_records::id)
        .load(db)
        .await
        .unwrap_or_default();
    let error = "lost: its scheduled job vanished from Redis; the chain was re-seeded";
    for id in lost {
        tracing::warn!(target: "payments", task_id = %id, "sweep chain link lost with Redis's data");
        let _ = TaskRecord::transition(db, &id, TaskState::Failure, 0, None, Some(error)).await;
    }
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
