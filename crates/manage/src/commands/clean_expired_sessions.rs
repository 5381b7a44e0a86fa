//! `manage clean_expired_sessions`: one sweep (SPEC §5.4), run here and
//! now in this process, recorded in `sweep_runs` like the worker's runs.
//! `--dry-run` asks Stripe but changes nothing in PostgreSQL, Stripe or
//! Redis (the sweep never touches Redis), and reports what it would do.

use anyhow::Context;
use clap::Args;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use domain::db::DbPool;
use domain::gateway::StripeGateway;
use domain::jobs::SweepTrigger;
use domain::services::{SweepOptions, SweepReport, run_sweep};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Runs with fewer candidates than this finish too fast to need a bar.
const PROGRESS_MIN_ITEMS: usize = 20;

#[derive(Debug, Clone, Args)]
pub struct Opts {
    /// Ask Stripe and report what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Also close, in Stripe, open sessions older than the session TTL
    /// whatever their `expires_at`.
    #[arg(long)]
    pub force: bool,

    /// Checkout Session lifetime that `--force` measures age against.
    #[arg(long, env = "CHECKOUT_SESSION_TTL_SECS", value_name = "CHECKOUT_SESSION_TTL_SECS",
          default_value_t = 1800, value_parser = crate::cli::session_ttl_secs)]
    pub session_ttl_secs: u64,

    /// Stripe calls in flight at once.
    #[arg(long, env = "SWEEP_CONCURRENCY", value_name = "SWEEP_CONCURRENCY", default_value_t = 4,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub concurrency: u64,
}

impl Opts {
    pub fn sweep_options(&self) -> SweepOptions {
        SweepOptions {
            dry_run: self.dry_run,
            force: self.force,
            session_ttl: Duration::from_secs(self.session_ttl_secs),
            concurrency: usize::try_from(self.concurrency).unwrap_or(4),
            ..SweepOptions::new(SweepTrigger::Cli)
        }
    }

    /// PostgreSQL connections the run needs: one for the run itself, one
    /// per Stripe call in flight.
    pub fn pool_size(&self) -> u32 {
        u32::try_from(self.concurrency).unwrap_or(4) + 1
    }
}

/// One sweep; errors on single payments are counted in the report, only a
/// sweep that cannot run at all is an error.
pub async fn run(
    pool: &DbPool,
    gateway: &dyn StripeGateway,
    opts: &Opts,
) -> anyhow::Result<SweepReport> {
    let bar = progress_bar();
    let progress = |done: usize, total: usize| {
        if done == 1 && total >= PROGRESS_MIN_ITEMS && std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let report = run_sweep(
        pool,
        gateway,
        &worker::stripe::StripeEventParser,
        &opts.sweep_options(),
        Some(&progress),
    )
    .await
    .context("the sweep failed");
    bar.finish_and_clear();
    report
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} payments reconciled ({eta} left)")
    {
        bar.set_style(style);
    }
    bar
}

pub fn print(report: &SweepReport, json: bool) -> anyhow::Result<()> {
    if json {
        return super::print_json(report);
    }
    println!("{}", summary_table(report));
    if !report.actions.is_empty() {
        if report.dry_run {
            println!("Dry run: nothing was changed. It would:");
        }
        println!("{}", actions_table(report));
    }
    match report.run_id {
        Some(id) => println!("Recorded as sweep run {id}."),
        None => println!(
            "Dry run: nothing was changed and no run was recorded; Stripe was only read (its reads are in stripe_calls)."
        ),
    }
    Ok(())
}

pub fn summary_table(report: &SweepReport) -> Table {
    let verb = if report.dry_run { "would be " } else { "" };
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(vec!["sweep", "count"]);
    for (label, value) in [
        ("expired or stale payments found".to_owned(), report.found),
        (format!("{verb}cancelled (in all)"), report.cancelled),
        (
            format!("  of which {verb}expired in Stripe first"),
            report.expired_in_stripe,
        ),
        (format!("{verb}recovered as completed"), report.completed),
        (
            "still open (payment settling in Stripe)".to_owned(),
            report.still_open,
        ),
        (
            format!("Stripe-side expiries {verb}retried"),
            report.expiries_retried,
        ),
        (
            format!("stored events {verb}processed"),
            report.events_processed,
        ),
        (
            "stored events waiting for their payment".to_owned(),
            report.events_waiting,
        ),
        ("errors".to_owned(), report.errors),
    ] {
        table.add_row(vec![label, value.to_string()]);
    }
    table
}

pub fn actions_table(report: &SweepReport) -> Table {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(vec!["payment / event", "action", "detail"]);
    for action in &report.actions {
        let subject = action
            .payment_id
            .map(|id| id.to_string())
            .or_else(|| action.event_id.clone())
            .unwrap_or_default();
        let name = action.action.trim_start_matches("would_").replace('_', " ");
        table.add_row(vec![subject, name, action.detail.to_string()]);
    }
    table
}
