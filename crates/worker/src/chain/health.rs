//! The chain's health, as the CLI and the board show it and the dead-man
//! switch repairs it.

use super::{ChainEnsured, Mode, chain_key, link_seq, seed, sweep_keys};
use crate::context::AppContext;
use crate::error::WorkerError;
use crate::metrics as m;
use crate::queue::JobQueue;
use diesel_async::AsyncPgConnection;
use domain::models::sweep_run::SweepRun;
use serde::Serialize;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How long after seeding a chain's first link may still be missing.
const SEEDING_SECS: i64 = 5;

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
    // A chain is claimed before its first link is pushed: give the seeding
    // worker a moment before calling a missing first link lost.
    let seeding = fields
        .get("created_at")
        .and_then(|v| v.parse::<i64>().ok())
        .is_some_and(|t| now.unix_timestamp() - t < SEEDING_SECS);
    let finished = matches!(link_status.as_deref(), Some("Done" | "Killed" | "Failed"));
    let health = if task_id.is_none() {
        ChainHealth::Missing
    } else if (!exists && !seeding) || finished {
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
    let read = async {
        let mut db = ctx.pool.get().await?;
        let status = chain_status(&ctx.queue, &mut db, ctx.config.chain.overdue_grace).await?;
        Ok::<_, WorkerError>((db, status))
    };
    let (mut db, status) = read.await.inspect_err(|_| m::chain_unknown())?;
    m::chain_heartbeat(
        status.heartbeat_age_secs,
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
            previous_task = status.task_id.as_deref(),
            next_run_at = status.next_run_at.and_then(|at| at.format(&Rfc3339).ok()),
            new_task = seeded.task_id(),
            "dead-man switch: the sweep chain was {}; re-seeded it", status.health.reason());
    }
    Ok(status.health)
}
