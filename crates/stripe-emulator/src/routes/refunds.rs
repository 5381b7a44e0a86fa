//! `/v1/refunds`: create, retrieve.

use crate::app::App;
use crate::error::ApiError;
use crate::form::{self, CreateRefundForm};
use crate::objects;
use actix_web::{HttpRequest, HttpResponse, web};

pub async fn create(app: web::Data<App>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    app.call(&req, &body, |state| {
        let form: CreateRefundForm = form::parse(&body)?;
        state.create_refund(form)
    })
    .await
}

pub async fn retrieve(
    app: web::Data<App>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    app.call(&req, &[], |state| {
        let refund = state
            .refunds
            .get(id.as_str())
            .ok_or_else(|| ApiError::not_found("refund", &id, "refund"))?;
        Ok(objects::refund(refund))
    })
    .await
}
