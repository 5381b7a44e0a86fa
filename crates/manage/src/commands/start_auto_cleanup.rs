//! `manage start_auto_cleanup`: make sure the one self-rescheduling sweep
//! chain exists (SPEC §5.4). Never adds a second chain: without `--delay` a
//! healthy chain is left alone; with `--delay` (or when the chain is lost
//! or overdue) it is replaced by one whose next run is that far away.
//! `--dry-run` reads the chain's state and says what would change.

use crate::payments::short_time;
use clap::Args;
use diesel_async::AsyncPgConnection;
use serde::Serialize;
use std::time::Duration;
use worker::{ChainEnsured, ChainHealth, ChainRequest, ChainStatus, JobQueue};

/// The longest `--delay`: a day, longer than any pause an operator needs.
pub const MAX_DELAY_SECS: u64 = 86_400;

#[derive(Debug, Clone, Args)]
pub struct Opts {
    /// Seconds until the chain's next run (at most a day); replaces the
    /// current chain.
    // Bounded because the dead-man switch only sees a chain that is late:
    // a mistyped delay of years would switch the sweep off unnoticed.
    #[arg(long, value_parser = clap::value_parser!(u64).range(..=MAX_DELAY_SECS))]
    pub delay: Option<u64>,

    /// Show the chain's state and what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// How late a run may be before the chain counts as dead.
    #[arg(
        long,
        env = "CHAIN_OVERDUE_GRACE_SECS",
        value_name = "CHAIN_OVERDUE_GRACE_SECS",
        default_value_t = 120
    )]
    pub overdue_grace_secs: u64,

    #[command(flatten)]
    pub queue: crate::services::QueueOpts,
}

/// What the command decided, from the chain's state and the options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    /// No chain: start one.
    Start,
    /// A healthy chain and no `--delay`: nothing to do.
    KeepRunning,
    /// Replace the chain (`--delay` given, or it is lost or overdue).
    Replace,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub dry_run: bool,
    pub plan: Plan,
    /// Seconds until the first run of a started or replaced chain.
    pub delay_secs: u64,
    /// The chain before the command.
    pub before: ChainStatus,
    /// What was done (absent in a dry run).
    pub result: Option<ChainEnsured>,
}

impl Outcome {
    pub fn summary(&self) -> String {
        let delay = self.delay_secs;
        let health = health_name(self.before.health);
        let task = self.before.task_id.as_deref().unwrap_or("-");
        let (start, replace, changed) = if self.dry_run {
            ("would start", "would replace", "would be changed")
        } else {
            ("started", "replaced", "was changed")
        };
        match (self.plan, &self.result) {
            (Plan::KeepRunning, _) => {
                format!("the sweep chain is already running (next link {task}); nothing {changed}")
            }
            (_, Some(ChainEnsured::AlreadyRunning { task_id, .. })) => format!(
                "another process set up the chain meanwhile (next link {task_id}); nothing was changed"
            ),
            (Plan::Start, _) => {
                format!("no sweep chain existed: {start} one, first run in {delay}s")
            }
            (Plan::Replace, _) => format!(
                "{replace} the {health} sweep chain (link {task}) with a new one, first run in {delay}s"
            ),
        }
    }
}

fn health_name(health: ChainHealth) -> &'static str {
    match health {
        ChainHealth::Healthy => "healthy",
        ChainHealth::Missing => "missing",
        ChainHealth::Lost => "lost",
        ChainHealth::Overdue => "overdue",
    }
}

pub fn plan(health: ChainHealth, delay_given: bool) -> Plan {
    match health {
        ChainHealth::Missing => Plan::Start,
        ChainHealth::Healthy if !delay_given => Plan::KeepRunning,
        ChainHealth::Healthy | ChainHealth::Lost | ChainHealth::Overdue => Plan::Replace,
    }
}

pub async fn run(
    queue: &JobQueue,
    conn: &mut AsyncPgConnection,
    opts: &Opts,
) -> anyhow::Result<Outcome> {
    let grace = Duration::from_secs(opts.overdue_grace_secs);
    let before = worker::chain_status(queue, conn, grace).await?;
    let plan = plan(before.health, opts.delay.is_some());
    let delay_secs = opts.delay.unwrap_or(0);
    let result = if opts.dry_run || plan == Plan::KeepRunning {
        None
    } else {
        let request = ChainRequest {
            delay: Some(Duration::from_secs(delay_secs)),
            replace: plan == Plan::Replace,
            dry_run: false,
        };
        Some(worker::ensure_chain_with(queue, conn, request).await?)
    };
    if let Some(result) = &result {
        tracing::info!(target: "payments", task_id = result.task_id(), result = result.result(),
            "start_auto_cleanup: sweep chain ensured");
    }
    Ok(Outcome {
        dry_run: opts.dry_run,
        plan,
        delay_secs,
        before,
        result,
    })
}

pub fn print(outcome: &Outcome, json: bool) -> anyhow::Result<()> {
    if json {
        return super::print_json(outcome);
    }
    println!("{}", outcome.summary());
    let changed = outcome
        .result
        .as_ref()
        .is_some_and(|r| !matches!(r, ChainEnsured::AlreadyRunning { .. }));
    let header = if changed { "before" } else { "current state" };
    println!("{}", status_table(&outcome.before, header));
    if let Some(result) = outcome.result.as_ref().filter(|_| changed) {
        println!("new chain: next link {}", result.task_id());
    }
    Ok(())
}

/// The chain's state, one row per fact.
pub fn status_table(status: &ChainStatus, header: &str) -> comfy_table::Table {
    let text = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(vec!["sweep chain", header]);
    let rows = [
        ("health", health_name(status.health).to_owned()),
        ("link", text(status.task_id.clone())),
        ("link status", text(status.link_status.clone())),
        ("scheduled", status.scheduled.to_string()),
        ("next run", short_time(status.next_run_at)),
        ("last outcome", text(status.last_outcome.clone())),
        (
            "heartbeat age",
            text(status.heartbeat_age_secs.map(|s| format!("{s}s"))),
        ),
    ];
    for (label, value) in rows {
        table.add_row(vec![label.to_owned(), value]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_chain_is_kept_unless_a_delay_is_given() {
        assert_eq!(plan(ChainHealth::Healthy, false), Plan::KeepRunning);
        assert_eq!(plan(ChainHealth::Healthy, true), Plan::Replace);
        assert_eq!(plan(ChainHealth::Missing, true), Plan::Start);
        assert_eq!(plan(ChainHealth::Lost, false), Plan::Replace);
        assert_eq!(plan(ChainHealth::Overdue, false), Plan::Replace);
    }
}
