//! `GET /api/products/`: the catalogue with what is still available.

use crate::error::{ApiError, OrApi};
use crate::lang::Language;
use crate::pagination::{Page, PageQuery, paginated};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::models::product::Product;
use serde_json::json;

#[utoipa::path(get, path = "/api/products/", tag = "products",
    params(("page" = Option<i64>, Query, description = "Page number"),
           ("page_size" = Option<i64>, Query, description = "Items per page (max 100)")),
    responses((status = 200, description = "{count, next, previous, results: [{id, name, price, currency, available}]}")))]
pub async fn list_products(
    req: HttpRequest,
    Language(lang): Language,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(&query, lang)?;
    let mut conn = state.pool.get().await.or_api(lang)?;
    let (count, _) = Product::list_with_stock(&mut conn, 0, 0)
        .await
        .or_api(lang)?;
    let page = page.resolve(count, lang)?;
    let (count, rows) = Product::list_with_stock(&mut conn, page.offset(), page.size)
        .await
        .or_api(lang)?;
    let results = rows
        .iter()
        .map(|(product, stock)| {
            json!({
                "id": product.id,
                "name": product.name,
                "price": product.price().amount_string(),
                "currency": product.currency.as_str(),
                "available": stock.available(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(paginated(&req, page, count, results)))
}
