//! Polling a service until it answers, within a deadline.

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::future::Future;
use std::time::{Duration, Instant};

/// The longest `--timeout`, `--interval` or `--duration` a command takes:
/// 30 days. Beyond it no wait makes sense, and near `u64::MAX` seconds
/// the deadline overflows `Instant`.
pub const MAX_SECS: u64 = 30 * 86_400;

/// How often and how long to poll.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    pub timeout: Duration,
    pub interval: Duration,
}

impl Patience {
    pub fn from_secs(timeout: u64, interval: u64) -> Self {
        Self {
            timeout: Duration::from_secs(timeout),
            interval: Duration::from_secs(interval),
        }
    }
}

/// A service that answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ready {
    /// What was waited for, e.g. `PostgreSQL at postgres://…` (no password).
    pub service: String,
    pub attempts: u32,
}

impl Ready {
    pub fn print(&self, json: bool) -> anyhow::Result<()> {
        if json {
            println!("{}", serde_json::to_string(self)?);
        } else {
            println!("{} is ready", self.service);
        }
        Ok(())
    }
}

/// Calls `probe` until it succeeds, every `interval`, for at most `timeout`:
/// each probe is cut off at the deadline and no probe starts after it.
/// Returns the number of attempts, or a one-line reason with the last
/// probe error. A spinner shows on stderr when stderr is a terminal.
pub async fn wait_until_ready<P, F>(
    service: &str,
    patience: Patience,
    mut probe: P,
) -> Result<u32, String>
where
    P: FnMut() -> F,
    F: Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + patience.timeout;
    let spinner = spinner(service);
    let mut attempts = 0;
    let outcome = loop {
        attempts += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let error = match tokio::time::timeout(remaining, probe()).await {
            Ok(Ok(())) => break Ok(attempts),
            Ok(Err(error)) => error,
            Err(_) => "no answer before the deadline".to_owned(),
        };
        spinner.set_message(format!(
            "waiting for {service} (attempt {attempts}): {error}"
        ));
        if Instant::now() + patience.interval >= deadline {
            break Err(format!(
                "{service} not ready within {}s ({attempts} attempts): {error}",
                patience.timeout.as_secs()
            ));
        }
        tokio::time::sleep(patience.interval).await;
    };
    spinner.finish_and_clear();
    outcome
}

fn spinner(service: &str) -> ProgressBar {
    let spinner = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed} {msg}") {
        spinner.set_style(style);
    }
    spinner.set_message(format!("waiting for {service}"));
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test]
    async fn succeeds_on_the_first_probe_that_answers() {
        let calls = Cell::new(0);
        let attempts = wait_until_ready("thing", Patience::from_secs(5, 0), || {
            calls.set(calls.get() + 1);
            let answer = if calls.get() < 3 {
                Err("not yet".to_owned())
            } else {
                Ok(())
            };
            async move { answer }
        })
        .await;
        assert_eq!(attempts, Ok(3));
    }

    #[tokio::test]
    async fn gives_up_at_the_deadline_with_the_last_error() {
        let started = Instant::now();
        let outcome = wait_until_ready(
            "thing",
            Patience {
                timeout: Duration::from_millis(300),
                interval: Duration::from_millis(100),
            },
            || async { Err::<(), _>("refused".to_owned()) },
        )
        .await;
        let reason = outcome.unwrap_err();
        assert!(reason.starts_with("thing not ready within 0s"), "{reason}");
        assert!(reason.ends_with(": refused"), "{reason}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_hanging_probe_is_cut_off_at_the_deadline() {
        let started = Instant::now();
        let outcome = wait_until_ready(
            "thing",
            Patience {
                timeout: Duration::from_millis(200),
                interval: Duration::from_millis(50),
            },
            std::future::pending::<Result<(), String>>,
        )
        .await;
        assert!(
            outcome
                .unwrap_err()
                .contains("no answer before the deadline")
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
