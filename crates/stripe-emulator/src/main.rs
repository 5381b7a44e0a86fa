//! `stripe-emulator [--bind ADDR] [--webhook-url URL]... [--webhook-secret SECRET] [--public-url URL]`
//!
//! A bad setting stops it at start with exit status 2 (as clap does for a
//! bad flag) and one line naming the flag and its environment variable.

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;
use stripe_emulator::config::{DEFAULT_BIND, DEFAULT_WEBHOOK_SECRET, parse_bind};
use stripe_emulator::{Emulator, EmulatorConfig, EmulatorError};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "stripe-emulator",
    version,
    about = "A local, stateful Stripe emulator"
)]
struct Cli {
    /// Address to listen on (IP:port).
    // A string, checked by `parse_bind`, so that an error names the
    // environment variable too (clap's names only the flag).
    #[arg(long, env = "EMULATOR_BIND", default_value = DEFAULT_BIND)]
    bind: String,
    /// Webhook endpoint (http://); repeat for several (env: comma separated).
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

impl Cli {
    /// The checked configuration, or the first bad setting.
    fn into_config(self) -> Result<EmulatorConfig, EmulatorError> {
        let config = EmulatorConfig {
            bind: parse_bind(&self.bind)?,
            public_url: self.public_url,
            // Blank entries come from a trailing or doubled comma.
            webhook_urls: self
                .webhook_urls
                .into_iter()
                .filter(|u| !u.trim().is_empty())
                .collect(),
            webhook_secret: self.webhook_secret,
            ..EmulatorConfig::default()
        };
        config.validate()?;
        Ok(config)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let config = match Cli::parse().into_config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("stripe-emulator: {error}");
            return Ok(ExitCode::from(2));
        }
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
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::{CommandFactory, Parser};
    use stripe_emulator::config::Setting;

    fn config_error(args: &[&str]) -> String {
        let cli = Cli::try_parse_from(["stripe-emulator"].iter().chain(args)).unwrap();
        cli.into_config().unwrap_err().to_string()
    }

    #[test]
    fn every_setting_is_read_from_the_flag_and_variable_its_errors_name() {
        let command = Cli::command();
        for setting in Setting::ALL {
            let arg = command
                .get_arguments()
                .find(|a| a.get_long().map(|l| format!("--{l}")).as_deref() == Some(setting.flag()))
                .unwrap_or_else(|| panic!("no {} flag", setting.flag()));
            assert_eq!(
                arg.get_env().and_then(|e| e.to_str()),
                Some(setting.env()),
                "{}",
                setting.flag()
            );
        }
    }

    #[test]
    fn bad_settings_are_refused_naming_the_flag_and_the_variable() {
        let cases: [(&[&str], &str); 5] = [
            (&["--bind", "bogus"], "--bind / EMULATOR_BIND: "),
            (
                &["--webhook-url", "notaurl"],
                "--webhook-url / EMULATOR_WEBHOOK_URLS: ",
            ),
            (
                &["--webhook-url", "ftp://x"],
                "--webhook-url / EMULATOR_WEBHOOK_URLS: ",
            ),
            (
                &["--public-url", "zzz"],
                "--public-url / EMULATOR_PUBLIC_URL: ",
            ),
            (
                &["--webhook-secret", ""],
                "--webhook-secret / STRIPE_WEBHOOK_SECRET: ",
            ),
        ];
        for (args, prefix) in cases {
            let message = config_error(args);
            assert!(message.starts_with(prefix), "{args:?}: {message}");
        }
    }

    #[test]
    fn good_settings_make_the_config() {
        let cli = Cli::try_parse_from([
            "stripe-emulator",
            "--bind",
            "127.0.0.1:0",
            "--webhook-url",
            "http://127.0.0.1:8000/hook/,",
            "--public-url",
            "https://pay.example.test",
        ])
        .unwrap();
        let config = cli.into_config().unwrap();
        assert_eq!(config.webhook_urls, vec!["http://127.0.0.1:8000/hook/"]);
        assert_eq!(config.bind.port(), 0);
    }
}
