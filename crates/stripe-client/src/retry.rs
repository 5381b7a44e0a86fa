//! Our retry loop. The built-in async-stripe strategies either send no
//! `Idempotency-Key` or a fresh one per call; here the caller passes one
//! request (with `RequestStrategy::Idempotent(key)` for POSTs) and every
//! attempt re-sends it unchanged, so Stripe applies the action at most once.

use crate::config::StripeConfig;
use crate::transport::TransportError;
use rand::Rng;
use std::future::Future;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Budget of a whole call, its attempts and sleeps included.
    pub deadline: Option<Duration>,
}

impl RetryPolicy {
    pub fn from_config(config: &StripeConfig) -> Self {
        Self {
            max_attempts: config.max_attempts.max(1),
            base_backoff: config.base_backoff,
            max_backoff: config.max_backoff,
            deadline: config.deadline,
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the attempts run
    /// out; returns the last error in the two latter cases.
    pub async fn run<T, F, Fut>(&self, operation: &str, mut attempt: F) -> Result<T, TransportError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, TransportError>>,
    {
        let started = Instant::now();
        let mut tries = 0;
        loop {
            tries += 1;
            let outcome = match self.deadline {
                None => attempt().await,
                Some(deadline) => {
                    let left = deadline.saturating_sub(started.elapsed());
                    tokio::time::timeout(left, attempt())
                        .await
                        .unwrap_or(Err(TransportError::Timeout))
                }
            };
            let error = match outcome {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if !is_retryable(&error) || tries >= self.max_attempts {
                return Err(error);
            }
            let delay = self.delay(tries, &error);
            if self
                .deadline
                .is_some_and(|deadline| started.elapsed() + delay >= deadline)
            {
                return Err(error);
            }
            tracing::warn!(
                operation,
                attempt = tries,
                delay_ms = delay.as_millis() as u64,
                error = %error,
                "Stripe call failed, retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// The sleep after failed attempt number `tries` (1-based): the server's
    /// `Retry-After` when it sent one, else exponential backoff with full
    /// jitter; both capped at `max_backoff`.
    pub fn delay(&self, tries: u32, error: &TransportError) -> Duration {
        if let TransportError::Api {
            retry_after: Some(wait),
            ..
        } = error
        {
            return (*wait).min(self.max_backoff);
        }
        let exponent = tries.saturating_sub(1).min(16);
        let ceiling = self
            .base_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff);
        let half = ceiling / 2;
        // "Equal jitter": at least half the step, so retries keep spreading out.
        half + rand::rng().random_range(Duration::ZERO..=half)
    }
}

/// Connection errors, timeouts, 409 (lock conflict on the idempotency key),
/// 429 and 5xx are worth another attempt; `Stripe-Should-Retry` overrides.
pub fn is_retryable(error: &TransportError) -> bool {
    match error {
        TransportError::Timeout | TransportError::Connection(_) => true,
        TransportError::Decode(_) => false,
        TransportError::Api {
            status,
            should_retry,
            ..
        } => match should_retry {
            Some(explicit) => *explicit,
            None => matches!(status, 409 | 429 | 500..=599),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            deadline: None,
        }
    }

    fn api(status: u16) -> TransportError {
        TransportError::Api {
            status,
            error: None,
            retry_after: None,
            should_retry: None,
        }
    }

    #[tokio::test]
    async fn a_deadline_ends_the_attempts_and_the_sleeps_between_them() {
        let policy = RetryPolicy {
            deadline: Some(Duration::from_millis(300)),
            ..policy()
        };
        let started = Instant::now();
        let mut attempts = 0;
        let result: Result<(), _> = policy
            .run("test", || {
                attempts += 1;
                async {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Err(TransportError::Timeout)
                }
            })
            .await;

        assert!(matches!(result, Err(TransportError::Timeout)));
        assert!(
            attempts <= 2,
            "{attempts} attempts: the deadline cuts the rest"
        );
        let waited = started.elapsed();
        assert!(waited < Duration::from_millis(450), "{waited:?}");
    }

    #[test]
    fn transient_statuses_are_retried_and_client_errors_are_not() {
        for status in [409, 429, 500, 502, 503, 504] {
            assert!(is_retryable(&api(status)), "{status}");
        }
        for status in [400, 401, 402, 403, 404] {
            assert!(!is_retryable(&api(status)), "{status}");
        }
        assert!(is_retryable(&TransportError::Timeout));
        assert!(!is_retryable(&TransportError::Decode("x".into())));
    }

    #[test]
    fn stripe_should_retry_header_wins() {
        let no = TransportError::Api {
            status: 500,
            error: None,
            retry_after: None,
            should_retry: Some(false),
        };
        assert!(!is_retryable(&no));
        let yes = TransportError::Api {
            status: 400,
            error: None,
            retry_after: None,
            should_retry: Some(true),
        };
        assert!(is_retryable(&yes));
    }

    #[test]
    fn backoff_grows_with_jitter_and_stays_under_the_cap() {
        let p = policy();
        for tries in 1..10 {
            let ceiling = (p.base_backoff * (1 << (tries - 1))).min(p.max_backoff);
            let d = p.delay(tries, &api(500));
            assert!(d >= ceiling / 2 && d <= ceiling, "{tries}: {d:?}");
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let p = policy();
        let wait = |secs: f64| TransportError::Api {
            status: 429,
            error: None,
            retry_after: Some(Duration::from_secs_f64(secs)),
            should_retry: None,
        };
        assert_eq!(p.delay(1, &wait(0.5)), Duration::from_millis(500));
        assert_eq!(p.delay(1, &wait(60.0)), Duration::from_millis(1000));
    }
}
