//! `POST /api/payments/webhook/` (SPEC §5.5): verify the signature, store
//! the event in PostgreSQL (dedupe by id), enqueue its job, answer fast.
//! Redis down → still 200: the event is stored and the sweep processes
//! stored-but-unprocessed events later. Never accepted and lost.

use crate::error::{ApiError, OrApi};
use crate::lang::Language;
use crate::messages;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel_async::AsyncPgConnection;
use domain::jobs::PaymentJob;
use domain::models::stripe_event::{Stored, StoredEvent};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The acknowledgement Stripe gets.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAck {
    pub received: bool,
    /// The event was already stored (a redelivery): not processed again
    /// (its job is enqueued now only if it never reached the queue).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<bool>,
}
use time::OffsetDateTime;

pub const SIGNATURE_FAILURES: &str = "payments_webhook_signature_failures_total";

/// The payment the event is about, when its object carries our metadata
/// (links the job to the payment's timeline).
fn payment_of(payload: &Value) -> Option<domain::PaymentId> {
    payload
        .pointer("/data/object/metadata/payment_id")?
        .as_str()?
        .parse()
        .ok()
}

/// The event's id and type, read from the verified payload.
fn envelope(payload: &Value) -> Option<(String, String)> {
    let id = payload.get("id")?.as_str()?.to_owned();
    let kind = payload.get("type")?.as_str()?.to_owned();
    (!id.is_empty() && !kind.is_empty()).then_some((id, kind))
}

/// A NUL character anywhere (`\u0000`): PostgreSQL's text and jsonb
/// cannot store it, so such a payload is refused as unreadable (400)
/// rather than failing the insert (500, and Stripe retrying for days).
fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

#[utoipa::path(post, path = "/api/payments/webhook/", tag = "stripe",
    request_body(content = String, description = "A Stripe event, verbatim", content_type = "application/json"),
    params(("Stripe-Signature" = String, Header, description = "t=<unix>,v1=<hmac>")),
    responses((status = 200, description = "Stored (and enqueued when Redis is up)", body = WebhookAck),
              (status = 400, description = "Bad or stale signature, or unreadable payload")))]
pub async fn post_webhook(
    req: HttpRequest,
    Language(lang): Language,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let signature = req
        .headers()
        .get("Stripe-Signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let secret = state.settings.stripe.webhook_secret.expose_secret();
    if let Err(e) =
        stripe_client::webhook::verify(&body, signature, secret, OffsetDateTime::now_utc())
    {
        metrics::counter!(SIGNATURE_FAILURES).increment(1);
        tracing::warn!(target: "payments", error = %e, "webhook refused: bad signature");
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            messages::INVALID_SIGNATURE,
            lang,
        ));
    }
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, messages::INVALID_PAYLOAD, lang))?;
    let (event_id, event_type) = envelope(&payload)
        .filter(|_| !has_nul(&payload))
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, messages::INVALID_PAYLOAD, lang))?;
    let mut conn = state.pool.get().await.or_api(lang)?;
    let stored = StoredEvent::store(&mut conn, &event_id, &event_type, &payload)
        .await
        .or_api(lang)?;
    if let Stored::Duplicate { processed } = stored {
        tracing::info!(target: "payments", %event_id, processed, "duplicate webhook acknowledged");
    }
    // A redelivery of an event whose job never reached Redis enqueues it
    // now rather than leaving it to the next sweep; the claim makes one
    // delivery do it, and never for an event already processed.
    let claimed = match stored {
        Stored::New => true,
        Stored::Duplicate { processed: false } => claim_enqueue(&mut conn, &event_id).await,
        Stored::Duplicate { processed: true } => false,
    };
    if claimed {
        enqueue_job(&state, &mut conn, &event_id, &event_type, &payload).await;
    }
    Ok(HttpResponse::Ok().json(WebhookAck {
        received: true,
        duplicate: matches!(stored, Stored::Duplicate { .. }).then_some(true),
    }))
}

/// Claims the enqueueing of the event's job. The event is stored: a
/// failure here must not fail Stripe's answer, and leaves it to the sweep.
async fn claim_enqueue(conn: &mut AsyncPgConnection, event_id: &str) -> bool {
    StoredEvent::claim_enqueue(conn, event_id)
        .await
        .inspect_err(|e| {
            tracing::warn!(target: "payments", %event_id, error = %e,
                "could not claim the event's enqueue; the sweep will process it");
        })
        .unwrap_or(false)
}

/// Enqueues the event's job. Redis down is not Stripe's problem: the event
/// is stored, so the claim is given back for a redelivery or the sweep.
async fn enqueue_job(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    event_id: &str,
    event_type: &str,
    payload: &Value,
) {
    let job = PaymentJob::for_event(event_type, event_id.to_owned());
    let enqueued = match state.queue.get().await {
        Ok(queue) => queue.enqueue(conn, job, None, payment_of(payload)).await,
        Err(e) => Err(e),
    };
    match enqueued {
        Ok(task_id) => {
            tracing::info!(target: "payments", %event_id, %event_type, %task_id, "webhook stored and enqueued");
        }
        Err(e) => {
            tracing::warn!(target: "payments", %event_id, %event_type, error = %e,
                "webhook stored but not enqueued; a redelivery or the sweep will process it");
            if let Err(e) = StoredEvent::release_enqueue(conn, event_id).await {
                tracing::warn!(target: "payments", %event_id, error = %e,
                    "could not release the enqueue claim; the sweep will process the event");
            }
        }
    }
}
