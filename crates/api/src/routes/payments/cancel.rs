//! `POST /api/payments/{id}/cancel/` (SPEC §5.2): synchronous, owner or
//! staff, idempotent; honours `Idempotency-Key`.

use super::lookup::caller_and_payment;
use crate::auth::Caller;
use crate::body::limited_bytes;
use crate::error::{ApiError, OrApi};
use crate::idempotency::{Reply, key_of, request_hash, run_once};
use crate::messages;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::i18n::Lang;
use domain::services::{CancelOutcome, cancel_read_payment};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// The seed's cancel shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelBody {
    /// Always `cancelled`.
    #[schema(example = "cancelled")]
    pub status: &'static str,
    pub payment_id: Uuid,
    pub order_id: Uuid,
    #[schema(example = "Pago cancelado exitosamente")]
    pub message: &'static str,
    #[schema(example = "CANCELLED")]
    pub payment_status: &'static str,
    #[schema(example = "CANCELLED")]
    pub order_status: &'static str,
    /// Present when Stripe could not be told; the sweep expires the session later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<&'static str>,
}

pub fn cancel_body(outcome: &CancelOutcome, lang: Lang) -> CancelBody {
    let message = if outcome.already_cancelled {
        messages::PAYMENT_ALREADY_CANCELLED
    } else {
        messages::PAYMENT_CANCELLED
    };
    CancelBody {
        status: "cancelled",
        payment_id: outcome.payment.id.0,
        order_id: outcome.payment.order_id.0,
        message: message.get(lang),
        payment_status: outcome.payment.status.as_str(),
        order_status: outcome.order_status.as_str(),
        warning: outcome
            .stripe_warning
            .as_ref()
            .map(|_| messages::STRIPE_WARNING.get(lang)),
    }
}

#[utoipa::path(post, path = "/api/payments/{id}/cancel/", tag = "payments",
    request_body(content = String, description = "Empty (or any JSON); part of the idempotency hash", content_type = "application/json"),
    params(("id" = String, Path, description = "Payment UUID"),
           ("Idempotency-Key" = Option<String>, Header, description = "Replays the saved response")),
    responses((status = 200, description = "Cancelled (or already cancelled)", body = CancelBody),
              (status = 404, description = "Unknown, malformed or someone else's payment"),
              (status = 409, description = "Already paid: the payment is now COMPLETED")))]
pub async fn post_cancel(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (auth, view) = {
        let conn = state.pool.get().await.or_api(caller.lang)?;
        caller_and_payment(&caller, &conn, &id).await?
    };
    let lang = auth.lang;
    // Read only now, once the caller is known: not logged in is 401
    // whatever the body, as when a body extractor followed the auth one.
    let body = limited_bytes(payload, state.settings.json_body_limit, lang).await?;
    let key = key_of(&req, lang)?;
    let view = view.ok_or_else(|| ApiError::not_found(lang))?;
    let actor = auth.actor_for(view.payment.user_id);
    let hash = request_hash(&req, &body);
    run_once(&state.claims, auth.user.id, key, hash, lang, async || {
        let outcome = cancel_read_payment(
            &state.pool,
            state.gateway.as_ref(),
            view.payment.clone(),
            &actor,
        )
        .await
        .or_api(lang)?;
        Ok(Reply::json(StatusCode::OK, &cancel_body(&outcome, lang)))
    })
    .await
}
