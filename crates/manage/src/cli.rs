//! Command-line shape: global options and one subcommand per command.
//!
//! Command names keep the seed's underscores (`wait_for_db`); the dashed
//! spelling (`wait-for-db`) is accepted as a visible alias.

use crate::commands::{
    check_http, check_invariants, check_payment_status, clean_expired_sessions, create_token,
    create_user, migrate, seed_bench, seed_demo, start_auto_cleanup, test_cancellation,
    wait_for_db, wait_for_redis,
};
use clap::{Args, Parser, Subcommand};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/payments";

/// `CHECKOUT_SESSION_TTL_SECS` (or the option it sets) as Stripe accepts
/// it: a sweep `--force` measuring age against 10 s would expire every
/// customer's live session.
pub fn session_ttl_secs(raw: &str) -> Result<u64, String> {
    let secs: u64 = raw.trim().parse().map_err(|e| format!("{e}"))?;
    domain::settings::checkout_session_ttl_secs(secs)
}

const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  success
  1  failure (a one-line reason is printed on stderr)
  2  usage error (unknown command, bad or missing option)";

const SWEEP_EXIT_HELP: &str = "\
Exit status:
  0  the sweep ran (payments it could not reconcile are counted under
     'errors' in the summary and retried by the next sweep)
  1  the sweep could not run (database or configuration; one line on stderr)
  2  usage error (unknown command, bad or missing option)";

const CANCELLATION_EXIT_HELP: &str = "\
Exit status:
  0  the payments were listed (and, without --dry-run, cancellations tried;
     a payment that cannot be cancelled, e.g. already paid, says why in its
     row, or in 'cancellation.error' with --json)
  1  failure: unknown payment or user, database or Stripe configuration
     (one line on stderr)
  2  usage error (unknown command, bad or missing option)

Without --payment-id, --user-email or --all nothing is cancelled: the
pending payments are listed (and checked in Stripe with --stripe-test).
A dry run says what cancelling would do ('would' with --json).";

#[derive(Debug, Parser)]
#[command(
    name = "manage",
    version,
    about = "Management commands of the payments service",
    after_help = EXIT_STATUS_HELP,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalOpts {
    /// PostgreSQL URL of the service database.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = DEFAULT_DATABASE_URL
    )]
    pub database_url: String,

    /// Print results as JSON (for scripts) where the output is data.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending database migrations.
    #[command(after_help = EXIT_STATUS_HELP)]
    Migrate(migrate::Opts),

    /// Wait until PostgreSQL answers `SELECT 1`.
    #[command(name = "wait_for_db", visible_alias = "wait-for-db", after_help = EXIT_STATUS_HELP)]
    WaitForDb(wait_for_db::Opts),

    /// Wait until Redis answers PING.
    #[command(name = "wait_for_redis", visible_alias = "wait-for-redis", after_help = EXIT_STATUS_HELP)]
    WaitForRedis(wait_for_redis::Opts),

    /// Create a user, or update the password and staff flag of an existing one.
    #[command(name = "create_user", visible_alias = "create-user", after_help = EXIT_STATUS_HELP)]
    CreateUser(create_user::Opts),

    /// Create an API token for a user and print its key (shown only once).
    #[command(name = "create_token", visible_alias = "create-token", after_help = EXIT_STATUS_HELP)]
    CreateToken(create_token::Opts),

    /// Create demo users, products with stock and a coupon (safe to re-run).
    #[command(name = "seed_demo", visible_alias = "seed-demo", after_help = EXIT_STATUS_HELP)]
    SeedDemo(seed_demo::Opts),

    /// Create the benchmark data set (the Django peer's seed_bench, in bulk).
    #[command(name = "seed_bench", visible_alias = "seed-bench", after_help = EXIT_STATUS_HELP)]
    SeedBench(seed_bench::Opts),

    /// Check the invariants of SPEC §4 over the database (exit 1 on a violation).
    #[command(name = "check_invariants", visible_alias = "check-invariants", after_help = EXIT_STATUS_HELP)]
    CheckInvariants(check_invariants::Opts),

    /// Run one expired-session sweep now, in this process, and summarise it.
    #[command(
        name = "clean_expired_sessions",
        visible_alias = "clean-expired-sessions",
        after_help = SWEEP_EXIT_HELP
    )]
    CleanExpiredSessions(clean_expired_sessions::Opts),

    /// Ensure the single self-rescheduling sweep chain (replace it with --delay).
    #[command(name = "start_auto_cleanup", visible_alias = "start-auto-cleanup", after_help = EXIT_STATUS_HELP)]
    StartAutoCleanup(start_auto_cleanup::Opts),

    /// Show payments with their order and Stripe state and cancel them.
    #[command(
        name = "test_cancellation",
        visible_alias = "test-cancellation",
        after_help = CANCELLATION_EXIT_HELP
    )]
    TestCancellation(test_cancellation::Opts),

    /// A table of payments (default: PENDING); --watch refreshes it live.
    #[command(
        name = "check_payment_status",
        visible_alias = "check-payment-status",
        after_help = EXIT_STATUS_HELP
    )]
    CheckPaymentStatus(check_payment_status::Opts),

    /// Exit 0 when GET URL answers 2xx (container health checks).
    #[command(name = "check_http", visible_alias = "check-http", after_help = EXIT_STATUS_HELP)]
    CheckHttp(check_http::Opts),
}
