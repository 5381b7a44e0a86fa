//! One module per command: `Opts` (its arguments), `run` (does the work on
//! a connection or URL and returns data) and `print` (text or JSON).

pub mod check_http;
pub mod check_invariants;
pub mod check_payment_status;
pub mod clean_expired_sessions;
pub mod create_token;
pub mod create_user;
pub mod migrate;
pub mod seed_bench;
pub mod seed_demo;
pub mod start_auto_cleanup;
pub mod test_cancellation;
pub mod wait_for_db;
pub mod wait_for_redis;

use crate::cli::{Cli, Command};
use crate::database::{connect, connect_pool};
use crate::services::{app_env, recorded_stripe_from_env};

/// Runs the parsed command line; the error is the one-line reason to show.
pub async fn execute(cli: Cli) -> anyhow::Result<()> {
    let database_url = cli.global.database_url.as_str();
    let json = cli.global.json;
    match cli.command {
        Command::Migrate(opts) => migrate::print(&migrate::run(database_url, &opts).await?, json),
        Command::WaitForDb(opts) => {
            wait_for_db::print(&wait_for_db::run(database_url, &opts).await?, json)
        }
        Command::WaitForRedis(opts) => {
            wait_for_redis::print(&wait_for_redis::run(&opts).await?, json)
        }
        Command::CreateUser(opts) => {
            let mut conn = connect(database_url).await?;
            create_user::print(&create_user::run(&mut conn, &opts).await?, json)
        }
        Command::CreateToken(opts) => {
            let mut conn = connect(database_url).await?;
            create_token::print(&create_token::run(&mut conn, &opts).await?, json)
        }
        Command::SeedDemo(opts) => {
            seed_demo::allowed_in(app_env()?)?;
            let mut conn = connect(database_url).await?;
            seed_demo::print(&seed_demo::run(&mut conn, &opts).await?, json)
        }
        Command::SeedBench(opts) => {
            let mut conn = connect(database_url).await?;
            seed_bench::print(&seed_bench::run(&mut conn, &opts).await?, json)
        }
        Command::CheckInvariants(opts) => {
            let mut conn = connect(database_url).await?;
            check_invariants::print(&check_invariants::run(&mut conn, &opts).await?, json)
        }
        Command::CleanExpiredSessions(opts) => {
            let gateway = recorded_stripe_from_env(database_url)?;
            let pool = connect_pool(database_url, opts.pool_size()).await?;
            let report = clean_expired_sessions::run(&pool, &gateway, &opts).await?;
            clean_expired_sessions::print(&report, json)
        }
        Command::StartAutoCleanup(opts) => {
            let mut conn = connect(database_url).await?;
            let queue = opts.queue.connect().await?;
            let outcome = start_auto_cleanup::run(&queue, &mut conn, &opts).await?;
            start_auto_cleanup::print(&outcome, json)
        }
        Command::TestCancellation(opts) => {
            let gateway = recorded_stripe_from_env(database_url)?;
            let mut conn = connect(database_url).await?;
            let report = test_cancellation::run(&mut conn, &gateway, &opts).await?;
            test_cancellation::print(&report, json)
        }
        Command::CheckPaymentStatus(opts) => {
            let mut conn = connect(database_url).await?;
            check_payment_status::run(&mut conn, &opts, json).await
        }
        Command::CheckHttp(opts) => check_http::print(&check_http::run(&opts).await?, json),
    }
}

/// Prints `value` as one line of JSON on stdout.
fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}
