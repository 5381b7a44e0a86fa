//! The span every request runs in: its request id and path, so that each
//! log line a request causes (the access line of `metrics::record`, a
//! transition, a Stripe failure) can be traced back to it; and the
//! `X-Request-Id` header that gives the caller the same id.
//!
//! tracing-actix-web's default span carries sixteen OpenTelemetry fields
//! (scheme, host, flavor, user agent, forwarded address, …), formatted on
//! every request and repeated in every line, most of them saying again
//! what the access line says. Nothing here exports to OpenTelemetry, so
//! the span keeps what ties lines together: an access line is half as
//! long (docs/benchmarks.md, round 8).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};

pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        // tracing-actix-web stores the id before asking for the span.
        let request_id = request.extensions().get::<RequestId>().copied();
        // The path without its query: the path names the payment, and a
        // query string is the caller's to keep out of our logs.
        // Target `payments`, so `RUST_LOG=warn,payments=info`
        // (docs/operations.md) keeps the id on the lines it keeps.
        tracing::info_span!(
            target: "payments",
            "request",
            request_id = request_id.map(tracing::field::display),
            path = %request.path(),
        )
    }

    /// The access line already records the status (and errors are logged
    /// where they are raised), so the span has nothing to add at the end.
    fn on_request_end<B: MessageBody>(_span: Span, _outcome: &Result<ServiceResponse<B>, Error>) {}
}

/// The response header naming the request, so that whoever reports a
/// failure (a frontend developer, a support ticket) gives the operator the
/// id to find its log lines by. Browsers may read it (`cors`).
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Sets [`REQUEST_ID_HEADER`] on every answer; runs inside `TracingLogger`,
/// which gives the request its id.
pub async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req.extensions().get::<RequestId>().copied();
    let mut res = next.call(req).await?;
    if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id.to_string()).ok()) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(res)
}
