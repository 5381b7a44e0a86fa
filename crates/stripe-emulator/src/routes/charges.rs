//! `/v1/charges/{id}`: retrieve (charges are created by paying a session).

use crate::app::App;
use actix_web::{HttpRequest, HttpResponse, web};

pub async fn retrieve(
    app: web::Data<App>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    app.call(&req, &[], |state| {
        Ok(state.render_charge(state.charge(&id)?))
    })
    .await
}
