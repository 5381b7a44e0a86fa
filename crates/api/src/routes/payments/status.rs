//! `GET /api/payments/{id}/status/`: the local mirror, or with
//! `?refresh=true` what Stripe says now (stored before answering).

use super::lookup::{caller_and_payment, visible_payment};
use super::view::{PaymentBody, view_body};
use crate::auth::Caller;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use domain::models::payment::{Payment, SessionMirror};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct StatusQuery {
    #[serde(default)]
    pub refresh: Option<String>,
}

fn wants_refresh(query: &StatusQuery) -> bool {
    query
        .refresh
        .as_deref()
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

#[utoipa::path(get, path = "/api/payments/{id}/status/", tag = "payments",
    params(("id" = String, Path, description = "Payment UUID"),
           ("refresh" = Option<bool>, Query, description = "Ask Stripe first and store what it says")),
    responses((status = 200, description = "Seed status shape with the stripe mirror (null without session)", body = PaymentBody),
              (status = 404, description = "Unknown, malformed or someone else's payment"),
              (status = 503, description = "Stripe unreachable (refresh only)")))]
pub async fn get_status(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, ApiError> {
    let (auth, view) = {
        let conn = state.pool.get().await.or_api(caller.lang)?;
        caller_and_payment(&caller, &conn, &id).await?
    };
    let lang = auth.lang;
    let mut view = view.ok_or_else(|| ApiError::not_found(lang))?;
    if wants_refresh(&query)
        && let Some(session_id) = view.payment.stripe_session_id.clone()
    {
        // No connection is held while Stripe answers (see cancel_read_payment).
        let session = state
            .gateway
            .retrieve_checkout_session(&session_id)
            .await
            .or_api(lang)?;
        let mut conn = state.pool.get().await.or_api(lang)?;
        Payment::store_mirror(&conn, view.payment.id, &SessionMirror::from(&session))
            .await
            .or_api(lang)?;
        view = visible_payment(&mut conn, &id, &auth).await?;
    }
    Ok(HttpResponse::Ok().json(view_body(&view, lang)))
}
