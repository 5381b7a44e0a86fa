//! `manage check_http URL`: the containers' health check (the runtime
//! images have no curl). Exit 0 when `GET URL` answers 2xx within the
//! timeout; otherwise exit 1 with a one-line reason. Plain `http://` only:
//! health checks target the service's own port inside the container.

use crate::messages::describe;
use anyhow::Context;
use clap::Args;
use serde::Serialize;
use std::time::Duration;

/// Characters of a failed answer's body shown on the one error line.
const BODY_SHOWN: usize = 300;

#[derive(Debug, Clone, Args)]
pub struct Opts {
    /// The URL to GET, e.g. http://127.0.0.1:8000/readyz.
    pub url: String,

    /// Give up after this many seconds (below the 3 s docker compose gives
    /// a health check, so the reason is ours, not a kill).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub url: String,
    pub status: u16,
}

pub async fn run(opts: &Opts) -> anyhow::Result<Answer> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(opts.timeout))
        .build()
        .context("cannot build the HTTP client")?;
    let response = client
        .get(&opts.url)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("GET {} failed: {}", opts.url, describe(&e)))?;
    let status = response.status();
    if !status.is_success() {
        // The services' health answers name what is down.
        let body = response.text().await.unwrap_or_default();
        let body: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
        let body: String = body.chars().take(BODY_SHOWN).collect();
        let said = if body.is_empty() {
            body
        } else {
            format!(": {body}")
        };
        anyhow::bail!("GET {} answered {status}{said}", opts.url);
    }
    Ok(Answer {
        url: opts.url.clone(),
        status: status.as_u16(),
    })
}

pub fn print(answer: &Answer, json: bool) -> anyhow::Result<()> {
    if json {
        return super::print_json(answer);
    }
    println!("GET {} answered {}", answer.url, answer.status);
    Ok(())
}
