//! `POST /api/payments/{id}/debug_cancel/` (staff, or the owner in
//! development): cancels and reports every step (seed shape).

use super::cancel::cancel_body;
use super::lookup::visible_payment;
use super::test_cancellation::allowed;
use crate::auth::Authenticated;
use crate::error::{ApiError, OrApi};
use crate::messages;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use domain::queries::payments::{Visibility, find_visible};
use domain::services::cancel_read_payment;
use serde_json::{Value, json};

#[utoipa::path(post, path = "/api/payments/{id}/debug_cancel/", tag = "debug",
    params(("id" = String, Path, description = "Payment UUID")),
    responses((status = 200, description = "{message, debug_info, response}"),
              (status = 403, description = "Not staff outside development"),
              (status = 404, description = "Unknown, malformed or someone else's payment")))]
pub async fn post_debug_cancel(
    auth: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    allowed(&auth, &state)?;
    let lang = auth.lang;
    let before = {
        let mut conn = state.pool.get().await.or_api(lang)?;
        visible_payment(&mut conn, &id, &auth).await?
    };
    let actor = auth.actor_for(before.payment.user_id);
    let result = cancel_read_payment(
        &state.pool,
        state.gateway.as_ref(),
        before.payment.clone(),
        &actor,
    )
    .await;
    let conn = state.pool.get().await.or_api(lang)?;
    let after = find_visible(&conn, before.payment.id, Visibility::All)
        .await
        .or_api(lang)?
        .ok_or_else(|| ApiError::not_found(lang))?;
    let (ok, response) = match &result {
        Ok(outcome) => (true, json!(cancel_body(outcome, lang))),
        Err(_) => (false, Value::Null),
    };
    let response = match result {
        Ok(_) => response,
        Err(e) => {
            let error = ApiError::from_domain(e, lang);
            json!({ "status_code": error.status().as_u16(), "body": error.body() })
        }
    };
    let message = if ok {
        messages::DEBUG_CANCEL_DONE
    } else {
        messages::DEBUG_CANCEL_FAILED
    };
    Ok(HttpResponse::Ok().json(json!({
        "message": message.get(lang),
        "debug_info": {
            "request_user": auth.user.email,
            "payment_user": before.user_email,
            "payment_id": before.payment.id,
            "order_id": before.payment.order_id,
            "initial_payment_status": before.payment.status.as_str(),
            "initial_order_status": before.order_status.as_str(),
            "final_payment_status": after.payment.status.as_str(),
            "final_order_status": after.order_status.as_str(),
            "cancel_successful": ok,
            "user_authorized": true,
            "can_cancel": before.payment.status.is_open(),
        },
        "response": response,
    })))
}
