//! `GET /api/payments/payment_stats/` (staff) and
//! `GET /api/payments/payment_stats_public/` (anyone; counts only).

use super::view::timestamp;
use crate::auth::Staff;
use crate::error::{ApiError, OrApi};
use crate::lang::Language;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use domain::i18n::Lang;
use domain::queries::stats::{PaymentStats, payment_stats};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

async fn load(state: &AppState, lang: Lang) -> Result<PaymentStats, ApiError> {
    let mut conn = state.pool.get().await.or_api(lang)?;
    payment_stats(&mut conn, OffsetDateTime::now_utc())
        .await
        .or_api(lang)
}

fn status_label(status: &str, lang: Lang) -> &'static str {
    status
        .parse::<domain::PaymentStatus>()
        .map_or("", |s| s.label(lang))
}

#[utoipa::path(get, path = "/api/payments/payment_stats/", tag = "stats",
    responses((status = 200, description = "{total_payments, by_status: {STATUS: {count, display, amounts}}, cancellations_by_source, pending_expired, generated_at}"),
              (status = 403, description = "Not staff")))]
pub async fn get_payment_stats(
    Staff(auth): Staff,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let lang = auth.lang;
    let stats = load(&state, lang).await?;
    let by_status: Map<String, Value> = stats
        .by_status
        .iter()
        .map(|(status, totals)| {
            let amounts: Map<String, Value> = totals
                .amounts
                .iter()
                .map(|(currency, money)| (currency.clone(), Value::String(money.amount_string())))
                .collect();
            let entry = json!({
                "count": totals.count,
                "display": status_label(status, lang),
                "amounts": amounts,
            });
            ((*status).to_owned(), entry)
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "total_payments": stats.total,
        "by_status": by_status,
        "cancellations_by_source": stats.cancellations_by_source,
        "pending_expired": stats.pending_expired,
        "generated_at": timestamp(OffsetDateTime::now_utc()),
    })))
}

#[utoipa::path(get, path = "/api/payments/payment_stats_public/", tag = "stats",
    responses((status = 200, description = "{total_payments, by_status: {STATUS: count}}")))]
pub async fn get_payment_stats_public(
    Language(lang): Language,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let stats = load(&state, lang).await?;
    let by_status: Map<String, Value> = stats
        .by_status
        .iter()
        .map(|(status, totals)| ((*status).to_owned(), json!(totals.count)))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "total_payments": stats.total,
        "by_status": by_status,
    })))
}
