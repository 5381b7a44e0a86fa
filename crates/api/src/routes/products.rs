//! `GET /api/products/`: the catalogue with what is still available.

use crate::error::{ApiError, OrApi};
use crate::lang::Language;
use crate::pagination::{Page, PageQuery, Paginated, paginated};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::models::product::Product;
use serde::Serialize;
use utoipa::ToSchema;

/// A product of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductBody {
    pub id: i64,
    pub name: String,
    #[schema(example = "10.00")]
    pub price: String,
    #[schema(example = "USD")]
    pub currency: String,
    /// Units that can still be bought (`units - units_sold`).
    pub available: i32,
}

#[utoipa::path(get, path = "/api/products/", tag = "products",
    params(("page" = Option<i64>, Query, description = "Page number"),
           ("page_size" = Option<i64>, Query, description = "Items per page (max 100)")),
    responses((status = 200, description = "A page of products", body = Paginated<ProductBody>)))]
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
        .map(|(product, stock)| ProductBody {
            id: product.id.0,
            name: product.name.clone(),
            price: product.price().amount_string(),
            currency: product.currency.as_str().to_owned(),
            available: stock.available(),
        })
        .collect::<Vec<_>>();
    Ok(HttpResponse::Ok().json(paginated(&req, page, count, results)))
}
