//! `stripe-emulator [--bind ADDR] [--webhook-url URL]... [--webhook-secret SECRET]`

use clap::Parser;
use std::io::IsTerminal;
use std::net::SocketAddr;
use stripe_emulator::config::{DEFAULT_BIND, DEFAULT_WEBHOOK_SECRET};
use stripe_emulator::{Emulator, EmulatorConfig};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "stripe-emulator",
    version,
    about = "A local, stateful Stripe emulator"
)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "EMULATOR_BIND", default_value = DEFAULT_BIND)]
    bind: SocketAddr,
    /// Webhook endpoint; repeat for several (env: comma separated).
    #[arg(
        long = "webhook-url",
        env = "EMULATOR_WEBHOOK_URLS",
        value_delimiter = ','
    )]
    webhook_urls: Vec<String>,
    /// Secret used to sign webhooks (`Stripe-Signature`).
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", default_value = DEFAULT_WEBHOOK_SECRET, hide_env_values = true)]
    webhook_secret: String,
    /// Base URL of the hosted checkout pages, when browsers reach the
    /// emulator under another address.
    #[arg(long, env = "EMULATOR_PUBLIC_URL")]
    public_url: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let cli = Cli::parse();
    let config = EmulatorConfig {
        bind: cli.bind,
        public_url: cli.public_url,
        webhook_urls: cli
            .webhook_urls
            .into_iter()
            .filter(|u| !u.trim().is_empty())
            .collect(),
        webhook_secret: cli.webhook_secret,
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start(config).await?;
    println!("stripe-emulator listening on {}", emulator.base_url());
    let shutdown = emulator.shutdown_handle();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            shutdown.stop(true).await;
        }
    });
    emulator.wait().await?;
    Ok(())
}
