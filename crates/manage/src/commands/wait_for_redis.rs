//! `manage wait_for_redis`: wait until Redis answers PING.

use crate::messages::{describe, redact_url};
use crate::waiting::{MAX_SECS, Patience, Ready, wait_until_ready};
use anyhow::Context;
use clap::Args;

pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

#[derive(Debug, Clone, Args)]
pub struct Opts {
    /// Redis URL.
    #[arg(long, env = "REDIS_URL", hide_env_values = true, default_value = DEFAULT_REDIS_URL)]
    pub redis_url: String,

    /// Give up after this many seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=MAX_SECS))]
    pub timeout: u64,

    /// Seconds between attempts.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=MAX_SECS))]
    pub interval: u64,
}

pub async fn run(opts: &Opts) -> anyhow::Result<Ready> {
    let service = format!("Redis at {}", redact_url(&opts.redis_url));
    let client = redis::Client::open(opts.redis_url.as_str())
        .with_context(|| format!("invalid Redis URL {}", redact_url(&opts.redis_url)))?;
    let patience = Patience::from_secs(opts.timeout, opts.interval);
    let attempts = wait_until_ready(&service, patience, || ping(&client))
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(Ready { service, attempts })
}

async fn ping(client: &redis::Client) -> Result<(), String> {
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| describe(&e))?;
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .map(drop)
        .map_err(|e| describe(&e))
}

pub fn print(ready: &Ready, json: bool) -> anyhow::Result<()> {
    ready.print(json)
}
