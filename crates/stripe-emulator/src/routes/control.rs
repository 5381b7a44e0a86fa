//! `/_emulator/*`: test and development controls (no auth). Every endpoint
//! is documented in `docs/stripe-emulator.md`.

use crate::app::App;
use crate::config::check_webhook_url;
use crate::error::ApiError;
use crate::faults::Fault;
use crate::state::PayOutcome;
use crate::webhooks::Mode;
use actix_web::error::JsonPayloadError;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/_emulator")
            .app_data(json_errors())
            .route("/health", web::get().to(health))
            .route("/sessions/bulk", web::post().to(super::session_bulk::load))
            .route("/sessions/{id}/expire", web::post().to(expire_session))
            .route("/sessions/{id}/pay", web::post().to(pay_session))
            .route("/clock", web::get().to(clock))
            .route("/clock/advance", web::post().to(advance_clock))
            .route("/faults", web::get().to(list_faults))
            .route("/faults", web::post().to(add_fault))
            .route("/faults", web::delete().to(clear_faults))
            .route("/webhooks/endpoints", web::get().to(list_endpoints))
            .route("/webhooks/endpoints", web::post().to(add_endpoint))
            .route("/webhooks/mode", web::get().to(get_mode))
            .route("/webhooks/mode", web::post().to(set_mode))
            .route("/webhooks/flush", web::post().to(flush))
            .route("/webhooks/deliveries", web::get().to(deliveries))
            .route("/events", web::get().to(events))
            .route("/idempotency-keys", web::get().to(idempotency_keys))
            .route("/requests", web::get().to(requests))
            .route("/reset", web::post().to(reset)),
    );
}

/// A body that is not the JSON an endpoint expects gets a Stripe-shaped
/// 400 saying what is wrong, like the rest of the emulator's errors
/// (actix's default answer is a 400 with an empty body).
fn json_errors() -> web::JsonConfig {
    web::JsonConfig::default().error_handler(|error, _| {
        let problem = match &error {
            JsonPayloadError::ContentType => {
                "send it with Content-Type: application/json".to_owned()
            }
            // Without actix's "Json deserialize error: " prefix, as the
            // pay endpoint's own parsing words it.
            JsonPayloadError::Deserialize(problem) => problem.to_string(),
            other => other.to_string(),
        };
        ApiError::invalid_json(problem).into()
    })
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"ok": true}))
}

async fn expire_session(
    app: web::Data<App>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = app.mutate(|state| state.expire_session(&id))?;
    Ok(HttpResponse::Ok().json(session))
}

#[derive(Debug, Default, Deserialize)]
struct PayBody {
    /// `paid` (default) or `failed`.
    outcome: Option<String>,
    /// Alternatively a test card number.
    card: Option<String>,
}

/// The body is optional (no body pays), so it is read as bytes: an
/// `Option<Json>` extractor would turn a malformed body into "no body" and
/// pay.
fn parse_pay_body(body: &[u8]) -> Result<PayBody, ApiError> {
    if body.trim_ascii().is_empty() {
        return Ok(PayBody::default());
    }
    serde_json::from_slice(body).map_err(ApiError::invalid_json)
}

async fn pay_session(
    app: web::Data<App>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body = parse_pay_body(&body)?;
    let outcome = match (body.card.as_deref(), body.outcome.as_deref()) {
        (Some(card), _) => PayOutcome::from_card(card).ok_or_else(|| {
            ApiError::invalid(
                "card",
                "Use 4242424242424242 (paid) or 4000000000000002 (declined).",
            )
        })?,
        (None, None | Some("paid")) => PayOutcome::Succeed,
        (None, Some("failed")) => PayOutcome::Decline,
        (None, Some(other)) => {
            return Err(ApiError::invalid(
                "outcome",
                format!("outcome must be paid or failed, not '{other}'"),
            ));
        }
    };
    let session = app.mutate(|state| state.pay_session(&id, outcome))?;
    Ok(HttpResponse::Ok().json(session))
}

async fn clock(app: web::Data<App>) -> HttpResponse {
    let state = app.lock();
    HttpResponse::Ok().json(json!({"now": state.now(), "offset": state.clock.offset()}))
}

#[derive(Debug, Deserialize)]
struct Advance {
    seconds: i64,
}

/// Moves the clock forward and expires whatever became due, at once.
async fn advance_clock(
    app: web::Data<App>,
    body: web::Json<Advance>,
) -> Result<HttpResponse, ApiError> {
    if body.seconds < 0 {
        return Err(ApiError::invalid(
            "seconds",
            "The clock only moves forward.",
        ));
    }
    let (now, expired) = app.mutate(|state| {
        state.clock.advance(body.seconds);
        (state.now(), state.expire_due_sessions())
    });
    Ok(HttpResponse::Ok().json(json!({"now": now, "expired": expired})))
}

async fn list_faults(app: web::Data<App>) -> HttpResponse {
    HttpResponse::Ok().json(app.lock().faults.pending())
}

async fn add_fault(app: web::Data<App>, fault: web::Json<Fault>) -> Result<HttpResponse, ApiError> {
    fault.check()?;
    let mut state = app.lock();
    state.faults.push(fault.into_inner());
    Ok(HttpResponse::Ok().json(state.faults.pending()))
}

async fn clear_faults(app: web::Data<App>) -> HttpResponse {
    app.lock().faults.clear();
    HttpResponse::Ok().json(json!([]))
}

async fn list_endpoints(app: web::Data<App>) -> HttpResponse {
    HttpResponse::Ok().json(app.hub.urls())
}

#[derive(Debug, Deserialize)]
struct Endpoint {
    url: String,
}

async fn add_endpoint(
    app: web::Data<App>,
    body: web::Json<Endpoint>,
) -> Result<HttpResponse, ApiError> {
    check_webhook_url(&body.url).map_err(|reason| ApiError::invalid("url", reason))?;
    app.hub.add_url(body.url.clone());
    Ok(HttpResponse::Ok().json(app.hub.urls()))
}

async fn get_mode(app: web::Data<App>) -> HttpResponse {
    HttpResponse::Ok().json(app.hub.mode())
}

async fn set_mode(app: web::Data<App>, mode: web::Json<Mode>) -> HttpResponse {
    app.hub.set_mode(mode.into_inner());
    HttpResponse::Ok().json(app.hub.mode())
}

async fn flush(app: web::Data<App>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"flushed": app.hub.flush_held()}))
}

async fn deliveries(app: web::Data<App>) -> HttpResponse {
    HttpResponse::Ok().json(app.hub.records())
}

#[derive(Deserialize)]
struct EventsQuery {
    session: Option<String>,
}

/// Every event, or with `?session=cs_…` only that session's (the whole
/// list grows to megabytes in a long run, serialised under the lock).
async fn events(app: web::Data<App>, query: web::Query<EventsQuery>) -> HttpResponse {
    let state = app.lock();
    match &query.session {
        Some(session) => HttpResponse::Ok().json(state.events_of_session(session)),
        None => HttpResponse::Ok().json(&state.events),
    }
}

async fn idempotency_keys(app: web::Data<App>) -> HttpResponse {
    HttpResponse::Ok().json(app.lock().idempotency.seen())
}

async fn requests(app: web::Data<App>) -> HttpResponse {
    HttpResponse::Ok().json(&app.lock().requests)
}

/// Forgets all objects, events, keys, faults and logs, and resets the clock
/// and webhook mode. Webhook endpoints stay configured.
async fn reset(app: web::Data<App>) -> HttpResponse {
    app.lock().reset();
    app.hub.reset();
    HttpResponse::Ok().json(json!({"reset": true}))
}
