//! `/v1/checkout/sessions`: create, retrieve, list, expire.

use crate::app::App;
use crate::form::{self, CreateSessionForm, ExpandForm, ListSessionsQuery};
use actix_web::{HttpRequest, HttpResponse, web};

pub async fn create(app: web::Data<App>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    app.call(&req, &body, |state| {
        let form: CreateSessionForm = form::parse(&body)?;
        let expand = form.expand.iter().any(|e| e == "payment_intent");
        let created = state.create_session(form)?;
        match (expand, created["id"].as_str()) {
            (true, Some(id)) => Ok(state.render_session(state.session(id)?, true)),
            _ => Ok(created),
        }
    })
    .await
}

pub async fn retrieve(
    app: web::Data<App>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    app.call(&req, &[], |state| {
        let query: ExpandForm = form::parse(req.query_string().as_bytes())?;
        Ok(state.render_session(state.session(&id)?, query.wants("payment_intent")))
    })
    .await
}

pub async fn list(app: web::Data<App>, req: HttpRequest) -> HttpResponse {
    app.call(&req, &[], |state| {
        let query: ListSessionsQuery = form::parse(req.query_string().as_bytes())?;
        state.list_sessions(&query)
    })
    .await
}

pub async fn expire(
    app: web::Data<App>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    app.call(&req, &body, |state| {
        let query: ExpandForm = form::parse(&body)?;
        state.expire_session(&id)?;
        Ok(state.render_session(state.session(&id)?, query.wants("payment_intent")))
    })
    .await
}
