//! Prometheus metrics (request counts and latency per route, plus the
//! counters handlers add, e.g. webhook signature failures) and the access
//! log line of every request.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

pub const REQUESTS: &str = "payments_api_http_requests_total";
pub const LATENCY: &str = "payments_api_http_request_duration_seconds";

/// The process-wide recorder (installed once; several test apps share it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(worker::metrics::BUCKETS)
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!(target: "payments", "a metrics recorder was already installed");
        }
        // Exported from the start at 0, so that `increase()` over it also
        // counts the first refused webhook (a series born at 1 does not).
        metrics::counter!(crate::routes::payments::webhook::SIGNATURE_FAILURES).absolute(0);
        worker::metrics::zero_stripe_call_errors();
        handle
    })
}

pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let result = next.call(req).await;
    let (status, route) = match &result {
        Ok(res) => (
            res.status().as_u16(),
            res.request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".into()),
        ),
        Err(e) => (
            e.as_response_error().status_code().as_u16(),
            "unmatched".into(),
        ),
    };
    let labels = [
        ("method", method),
        ("route", route),
        ("status", status.to_string()),
    ];
    let elapsed = started.elapsed();
    // The access log line; the request's span (`request_span`) adds its id.
    tracing::info!(target: "payments", method = %labels[0].1, route = %labels[1].1,
        status, latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX), "request served");
    metrics::counter!(REQUESTS, &labels).increment(1);
    metrics::histogram!(LATENCY, &labels[..2]).record(elapsed.as_secs_f64());
    result
}

/// `GET /metrics` in the Prometheus text format.
pub async fn render() -> HttpResponse {
    let handle = handle();
    handle.run_upkeep();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}
