//! `GET /api/payments/{id}/timeline/` (staff): transitions, Stripe
//! events, jobs, sweep outcomes and Stripe calls of one payment, in one
//! ordered list.

use super::lookup::visible_payment;
use super::view::timestamp;
use crate::auth::Staff;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use domain::queries::timeline::payment_timeline;
use serde_json::{Value, json};

#[utoipa::path(get, path = "/api/payments/{id}/timeline/", tag = "payments",
    params(("id" = String, Path, description = "Payment UUID")),
    responses((status = 200, description = "{payment_id, count, timeline: [{at, kind, ...}]} oldest first"),
              (status = 403, description = "Not staff"),
              (status = 404, description = "Unknown or malformed id")))]
pub async fn get_timeline(
    Staff(auth): Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let lang = auth.lang;
    let mut conn = state.pool.get().await.or_api(lang)?;
    let view = visible_payment(&mut conn, &id, &auth).await?;
    let entries = payment_timeline(&mut conn, &view.payment)
        .await
        .or_api(lang)?;
    let timeline: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            let mut entry = json!({ "at": timestamp(e.at), "kind": e.kind });
            if let (Value::Object(target), Value::Object(data)) = (&mut entry, e.data) {
                target.extend(data);
            }
            entry
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "payment_id": view.payment.id,
        "count": timeline.len(),
        "timeline": timeline,
    })))
}
