//! `GET /api/payments/` and `GET /api/payments/{id}/`: owner or staff.

use super::lookup::{caller_and_payment, visibility};
use super::view::{PaymentBody, view_body};
use crate::auth::{Authenticated, Caller};
use crate::error::{ApiError, OrApi};
use crate::pagination::{Page, PageQuery, Paginated, paginated};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::queries::payments::list_visible;

#[utoipa::path(get, path = "/api/payments/", tag = "payments",
    params(("page" = Option<i64>, Query, description = "Page number"),
           ("page_size" = Option<i64>, Query, description = "Items per page (max 100)")),
    responses((status = 200, description = "Paginated payments in the status shape", body = Paginated<PaymentBody>),
              (status = 401, description = "Not logged in")))]
pub async fn list_payments(
    req: HttpRequest,
    auth: Authenticated,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let lang = auth.lang;
    let page = Page::parse(&query, lang)?;
    let conn = state.pool.get().await.or_api(lang)?;
    let scope = visibility(&auth);
    // The count and the page asked for come back together; only `last`
    // needs the count before its page is known.
    let (count, mut views) = list_visible(&conn, scope, None, page.offset(), page.size)
        .await
        .or_api(lang)?;
    let asked = page;
    let page = page.resolve(count, lang)?;
    if page.number != asked.number {
        (_, views) = list_visible(&conn, scope, None, page.offset(), page.size)
            .await
            .or_api(lang)?;
    }
    let results = views.iter().map(|v| view_body(v, lang)).collect::<Vec<_>>();
    Ok(HttpResponse::Ok().json(paginated(&req, page, count, results)))
}

#[utoipa::path(get, path = "/api/payments/{id}/", tag = "payments",
    params(("id" = String, Path, description = "Payment UUID")),
    responses((status = 200, description = "The payment in the status shape", body = PaymentBody),
              (status = 404, description = "Unknown, malformed or someone else's")))]
pub async fn get_payment(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let conn = state.pool.get().await.or_api(caller.lang)?;
    let (auth, view) = caller_and_payment(&caller, &conn, &id).await?;
    let view = view.ok_or_else(|| ApiError::not_found(auth.lang))?;
    Ok(HttpResponse::Ok().json(view_body(&view, auth.lang)))
}
