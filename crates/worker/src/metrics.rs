//! Prometheus metrics of the worker (served on the board's `/metrics`).

use domain::gateway::GatewayError;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

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
            match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is installed (embedded use): keep a
                // private one so /metrics still answers.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// `outcome`: success | retry | failure | duplicate.
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

/// Seconds since the chain's last finished run (`-1`: never ran).
pub fn chain_heartbeat(age_secs: f64, healthy: bool) {
    gauge!("payments_sweep_chain_heartbeat_age_seconds").set(age_secs);
    gauge!("payments_sweep_chain_healthy").set(if healthy { 1.0 } else { 0.0 });
}

/// Open payments past their session's expiry, not yet reconciled.
pub fn open_expired_payments(count: i64) {
    #[expect(clippy::cast_precision_loss, reason = "a count far below 2^52")]
    gauge!("payments_open_expired_payments").set(count as f64);
}

pub fn stripe_call(operation: &'static str, took: Duration, error: Option<&GatewayError>) {
    histogram!("payments_stripe_call_seconds", "operation" => operation).record(took.as_secs_f64());
    if let Some(e) = error {
        let kind = match e {
            GatewayError::NotFound(_) => "not_found",
            GatewayError::SessionNotOpen(_) => "session_not_open",
            GatewayError::Transient(_) => "transient",
            GatewayError::RateLimited { .. } => "rate_limited",
            GatewayError::Authentication(_) => "authentication",
            GatewayError::Permanent(_) => "permanent",
        };
        counter!("payments_stripe_call_errors_total", "operation" => operation, "kind" => kind)
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
