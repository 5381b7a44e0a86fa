//! `/v1/payment_intents`: retrieve, cancel.

use crate::app::App;
use crate::form::{self, CancelIntentForm};
use crate::objects;
use actix_web::{HttpRequest, HttpResponse, web};

pub async fn retrieve(
    app: web::Data<App>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    app.call(&req, &[], |state| {
        Ok(objects::payment_intent(state.intent(&id)?))
    })
    .await
}

pub async fn cancel(
    app: web::Data<App>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    app.call(&req, &body, |state| {
        let form: CancelIntentForm = form::parse(&body)?;
        state.cancel_intent(&id, form.cancellation_reason)
    })
    .await
}
