//! `clean_expired_sessions` (SPEC §5.4): one sweep run by the domain's
//! `run_sweep`. A chain link first checks it is still the chain's current
//! link, and after the run schedules the next one: busy / idle / error
//! interval according to the outcome. One-off runs schedule nothing.

use crate::chain::{self, LinkCheck};
use crate::context::AppContext;
use crate::metrics as m;
use crate::tasks::{JobError, TaskInfo, TaskRef, reject_unreadable, run_tracked};
use apalis::prelude::{BoxDynError, Data, TaskId};
use domain::jobs::{CleanExpiredSessions, SWEEP_QUEUE, SweepTrigger};
use domain::services::{SweepOptions, SweepReport, run_sweep};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The apalis handler of the sweep queue.
pub async fn handle_sweep_job(
    raw: Value,
    id: TaskId,
    ctx: Data<Arc<AppContext>>,
) -> Result<Value, BoxDynError> {
    let task = TaskRef::parse(&id);
    let job: CleanExpiredSessions = match serde_json::from_value(raw) {
        Ok(job) => job,
        Err(e) => return reject_unreadable(&ctx, &task, SWEEP_QUEUE, &e).await,
    };
    let storage = ctx.queue.sweep_storage();
    let info = TaskInfo {
        job_name: CleanExpiredSessions::NAME,
        task: &task,
        payment_id: None,
        retry_on: &storage,
        job: &job,
    };
    run_tracked(&ctx, info, run(&ctx, &job, &task)).await
}

fn options(ctx: &AppContext, job: &CleanExpiredSessions, task: &TaskRef) -> SweepOptions {
    let mut opts = SweepOptions::new(job.trigger);
    opts.task_id = Some(task.record_id.clone());
    opts.dry_run = job.dry_run;
    opts.force = job.force;
    opts.session_ttl = ctx.config.session_ttl;
    opts.concurrency = ctx.config.sweep_concurrency;
    opts
}

async fn sweep(ctx: &AppContext, opts: &SweepOptions) -> Result<SweepReport, domain::DomainError> {
    let result = run_sweep(
        &ctx.pool,
        ctx.gateway.as_ref(),
        ctx.parser.as_ref(),
        opts,
        None,
    )
    .await;
    let outcome = result.as_ref().map_or("error", SweepReport::outcome);
    if let Ok(report) = &result {
        m::sweep_run(opts.trigger.as_str(), outcome, report);
        tracing::info!(target: "payments", trigger = opts.trigger.as_str(), outcome,
            found = report.found, cancelled = report.cancelled, completed = report.completed,
            errors = report.errors, dry_run = opts.dry_run, "sweep finished");
    }
    result
}

pub async fn run(
    ctx: &AppContext,
    job: &CleanExpiredSessions,
    task: &TaskRef,
) -> Result<Value, JobError> {
    let opts = options(ctx, job, task);
    match (job.trigger, job.chain_token.as_deref()) {
        (SweepTrigger::Chain, Some(token)) => run_link(ctx, &opts, token, task).await,
        _ => {
            let report = sweep(ctx, &opts).await?;
            Ok(json!({ "trigger": job.trigger, "outcome": report.outcome(), "report": report }))
        }
    }
}

/// The delay before the next link, by the run's outcome.
pub fn next_delay(ctx: &AppContext, outcome: &str) -> Duration {
    match outcome {
        "fixed" => ctx.config.chain.busy,
        "idle" => ctx.config.chain.idle,
        _ => ctx.config.chain.error,
    }
}

async fn run_link(
    ctx: &AppContext,
    opts: &SweepOptions,
    token: &str,
    task: &TaskRef,
) -> Result<Value, JobError> {
    let transient = |e: crate::error::WorkerError| JobError::Transient(e.to_string());
    if chain::check_link(&ctx.queue, token, &task.record_id)
        .await
        .map_err(transient)?
        == LinkCheck::Superseded
    {
        tracing::info!(target: "payments", token, task_id = %task.task_id,
            "sweep chain link superseded; stopping without rescheduling");
        return Ok(json!({ "status": "superseded", "chain_token": token }));
    }
    let result = sweep(ctx, opts).await;
    let outcome = result.as_ref().map_or("error", SweepReport::outcome);
    let delay = next_delay(ctx, outcome);
    let next = chain::schedule_next(ctx, token, &task.record_id, delay, outcome, opts.dry_run)
        .await
        .map_err(transient)?;
    if let Ok(report) = &result
        && next.is_some()
    {
        chain::record_next_run(ctx, report.run_id, delay)
            .await
            .map_err(transient)?;
    }
    tracing::info!(target: "payments", token, outcome, next_task = next.as_deref(),
        next_in_secs = delay.as_secs(), "sweep chain link done");
    match result {
        Ok(report) => Ok(json!({
            "trigger": "chain", "outcome": outcome, "report": report,
            "next_task_id": next, "next_run_in": delay.as_secs(),
        })),
        // The chain itself is the retry: the next link is already scheduled.
        Err(e) => Err(JobError::Permanent(format!(
            "sweep failed ({e}); next run in {} s",
            delay.as_secs()
        ))),
    }
}
