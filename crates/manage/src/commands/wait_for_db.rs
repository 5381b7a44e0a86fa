//! `manage wait_for_db`: wait until PostgreSQL answers `SELECT 1`.

use crate::messages::{describe, redact_url};
use crate::waiting::{MAX_SECS, Patience, Ready, wait_until_ready};
use clap::Args;
use diesel_async::RunQueryDsl;

#[derive(Debug, Clone, Args)]
pub struct Opts {
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=MAX_SECS))]
    pub timeout: u64,

    /// Seconds between attempts.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=MAX_SECS))]
    pub interval: u64,
}

pub async fn run(database_url: &str, opts: &Opts) -> anyhow::Result<Ready> {
    // Waiting cannot make another database speak PostgreSQL: fail at once.
    let given: &[(&str, &str)] = &[("DATABASE_URL", database_url)];
    domain::settings::database_url(&given, database_url)?;
    let service = format!("PostgreSQL at {}", redact_url(database_url));
    let patience = Patience::from_secs(opts.timeout, opts.interval);
    let attempts = wait_until_ready(&service, patience, || select_one(database_url))
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(Ready { service, attempts })
}

async fn select_one(database_url: &str) -> Result<(), String> {
    let mut conn = domain::db::establish(database_url)
        .await
        .map_err(|e| describe(&e))?;
    diesel::sql_query("SELECT 1")
        .execute(&mut conn)
        .await
        .map(drop)
        .map_err(|e| describe(&e))
}

pub fn print(ready: &Ready, json: bool) -> anyhow::Result<()> {
    ready.print(json)
}
