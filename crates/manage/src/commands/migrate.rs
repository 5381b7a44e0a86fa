//! `manage migrate`: apply the embedded migrations that are still pending.

use anyhow::Context;
use clap::Args;
use serde::Serialize;

#[derive(Debug, Clone, Default, Args)]
pub struct Opts {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// Versions applied by this run, oldest first.
    pub applied: Vec<String>,
}

pub async fn run(database_url: &str, _opts: &Opts) -> anyhow::Result<Applied> {
    tracing::info!(target: "payments", "applying pending migrations");
    let applied = domain::db::run_migrations(database_url)
        .await
        .context("migrate")?;
    Ok(Applied { applied })
}

pub fn print(outcome: &Applied, json: bool) -> anyhow::Result<()> {
    if json {
        return super::print_json(outcome);
    }
    if outcome.applied.is_empty() {
        println!("no pending migrations");
    }
    for version in &outcome.applied {
        println!("applied {version}");
    }
    Ok(())
}
