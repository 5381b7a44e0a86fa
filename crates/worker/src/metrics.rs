//! Prometheus metrics of the worker (served on the board's `/metrics`).

use domain::gateway::{ERROR_KINDS, GatewayError, OPERATIONS};
use domain::jobs::{CleanExpiredSessions, PaymentJob};
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use time::OffsetDateTime;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Histogram buckets, in seconds: from a Stripe call (milliseconds) to a
/// sweep over a large backlog (minutes). Without buckets the exporter
/// writes summaries, whose quantiles cannot be added up across replicas.
/// The API uses the same ones: both export `payments_stripe_call_seconds`,
/// and series with different `le` bounds cannot be summed either.
pub const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Installs the process-wide recorder once and returns its handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let handle = match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is installed (embedded use): keep a
                // private one so /metrics still answers.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            };
            zero_worker_counters();
            zero_stripe_call_errors();
            handle
        })
        .clone()
}

/// Outcomes of `payments_jobs_total`.
const JOB_OUTCOMES: [&str; 5] = ["success", "retry", "failure", "duplicate", "waiting"];
/// `job` of a task whose payload no job of this build reads.
const UNREADABLE_JOB: &str = "unreadable";
const SWEEP_TRIGGERS: [&str; 2] = ["chain", "oneoff"];
const SWEEP_OUTCOMES: [&str; 3] = ["idle", "fixed", "error"];
const RESEED_REASONS: [&str; 3] = ["missing", "lost", "overdue"];

/// The counters the alerts of docs/operations.md watch, exported at 0
/// from the start: `increase()` does not see the first increment of a
/// series born at 1, and a worker restarts at every deploy, so a rare
/// event (a re-seed, a job's first failure) would never alert.
fn zero_worker_counters() {
    let jobs = PaymentJob::NAMES
        .into_iter()
        .chain([CleanExpiredSessions::NAME, UNREADABLE_JOB]);
    for job in jobs {
        for outcome in JOB_OUTCOMES {
            counter!("payments_jobs_total", "job" => job, "outcome" => outcome).absolute(0);
        }
    }
    for trigger in SWEEP_TRIGGERS {
        for outcome in SWEEP_OUTCOMES {
            counter!("payments_sweep_runs_total", "trigger" => trigger, "outcome" => outcome)
                .absolute(0);
        }
    }
    for reason in RESEED_REASONS {
        counter!("payments_sweep_chain_reseeds_total", "reason" => reason).absolute(0);
    }
}

/// `payments_stripe_call_errors_total` at 0 for every operation and kind;
/// the API exports it too.
pub fn zero_stripe_call_errors() {
    for operation in OPERATIONS {
        for kind in ERROR_KINDS {
            counter!("payments_stripe_call_errors_total", "operation" => operation, "kind" => kind)
                .absolute(0);
        }
    }
}

/// `outcome`: success | retry | failure | duplicate | waiting.
pub fn job_finished(job: &'static str, outcome: &'static str, took: Duration) {
    counter!("payments_jobs_total", "job" => job, "outcome" => outcome).increment(1);
    histogram!("payments_job_duration_seconds", "job" => job).record(took.as_secs_f64());
}

pub fn job_started(job: &'static str) {
    counter!("payments_jobs_started_total", "job" => job).increment(1);
}

pub fn sweep_run(trigger: &'static str, outcome: &str, report: &domain::services::SweepReport) {
    counter!("payments_sweep_runs_total", "trigger" => trigger, "outcome" => outcome.to_owned())
        .increment(1);
    let counts = [
        ("found", report.found),
        ("cancelled", report.cancelled),
        ("completed", report.completed),
        ("still_open", report.still_open),
        ("expired_in_stripe", report.expired_in_stripe),
        ("expiries_retried", report.expiries_retried),
        ("events_processed", report.events_processed),
        ("events_waiting", report.events_waiting),
        ("errors", report.errors),
    ];
    for (what, n) in counts {
        counter!("payments_sweep_items_total", "kind" => what)
            .increment(u64::try_from(n).unwrap_or(0));
    }
}

pub fn chain_reseeded(reason: &'static str) {
    counter!("payments_sweep_chain_reseeds_total", "reason" => reason).increment(1);
}

/// When the chain's last run finished (unix seconds) as last read;
/// `i64::MIN` while unknown.
static LAST_RUN_AT: AtomicI64 = AtomicI64::new(i64::MIN);

/// The chain as just read: seconds since its last finished run (`None`:
/// never ran, exported as `-1`) and whether it is on time.
pub fn chain_heartbeat(age_secs: Option<i64>, healthy: bool) {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    LAST_RUN_AT.store(
        age_secs.map_or(i64::MIN, |age| now - age),
        Ordering::Relaxed,
    );
    #[expect(clippy::cast_precision_loss, reason = "seconds, far below 2^52")]
    gauge!("payments_sweep_chain_heartbeat_age_seconds").set(age_secs.map_or(-1.0, |a| a as f64));
    gauge!("payments_sweep_chain_healthy").set(if healthy { 1.0 } else { 0.0 });
}

/// The chain could not be read (PostgreSQL or Redis down): this worker
/// cannot vouch for it, so it is not healthy, and the last run it knew of
/// keeps ageing instead of freezing at the last good reading.
pub fn chain_unknown() {
    let last_run = LAST_RUN_AT.load(Ordering::Relaxed);
    if last_run != i64::MIN {
        let age = OffsetDateTime::now_utc().unix_timestamp() - last_run;
        #[expect(clippy::cast_precision_loss, reason = "seconds, far below 2^52")]
        gauge!("payments_sweep_chain_heartbeat_age_seconds").set(age as f64);
    }
    gauge!("payments_sweep_chain_healthy").set(0.0);
}

/// Open payments past their session's expiry, not yet reconciled.
pub fn open_expired_payments(count: i64) {
    #[expect(clippy::cast_precision_loss, reason = "a count far below 2^52")]
    gauge!("payments_open_expired_payments").set(count as f64);
}

pub fn stripe_call(operation: &'static str, took: Duration, error: Option<&GatewayError>) {
    histogram!("payments_stripe_call_seconds", "operation" => operation).record(took.as_secs_f64());
    if let Some(e) = error {
        counter!("payments_stripe_call_errors_total", "operation" => operation, "kind" => e.kind())
            .increment(1);
    }
}

pub fn worker_restarted(queue: &'static str) {
    counter!("payments_worker_restarts_total", "queue" => queue).increment(1);
}

pub fn queue_depth(queue: &str, state: &'static str, depth: u64) {
    gauge!("payments_queue_depth", "queue" => queue.to_owned(), "state" => state).set(depth as f64);
}

pub fn cleaned(what: &'static str, n: u64) {
    counter!("payments_cleanup_deleted_total", "what" => what).increment(n);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exported(metrics: &str, series: &str) -> Option<f64> {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
    }

    #[test]
    fn the_counters_alerts_watch_are_exported_at_zero_before_anything_happens() {
        let metrics = install().render();
        for series in [
            r#"payments_sweep_chain_reseeds_total{reason="missing"}"#,
            r#"payments_jobs_total{job="checkout_session_expired",outcome="failure"}"#,
            r#"payments_jobs_total{job="clean_expired_sessions",outcome="failure"}"#,
            r#"payments_sweep_runs_total{trigger="chain",outcome="error"}"#,
            r#"payments_stripe_call_errors_total{operation="expire_checkout_session",kind="transient"}"#,
        ] {
            assert_eq!(
                exported(&metrics, series),
                Some(0.0),
                "{series} in\n{metrics}"
            );
        }
    }

    #[test]
    fn a_chain_that_cannot_be_read_is_unhealthy_and_its_last_run_keeps_ageing() {
        let handle = install();
        chain_heartbeat(Some(40), true);
        chain_unknown();
        let metrics = handle.render();
        assert_eq!(
            exported(&metrics, "payments_sweep_chain_healthy"),
            Some(0.0)
        );
        let age = exported(&metrics, "payments_sweep_chain_heartbeat_age_seconds");
        assert!(age.is_some_and(|age| age >= 40.0), "{metrics}");
    }
}
