//! The OpenAPI 3 document (`/api/schema/`), generated from the handlers'
//! annotations, and the offline Swagger UI (`/api/docs/`).

use crate::routes::{auth, health, payments as p, products};
use actix_web::web;
use utoipa::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Payments reliability API",
        description = "SPEC §6: checkout, cancellation, expired sessions, webhooks, task status. \
            Errors are `ErrorBody` (`{\"detail\": ...}`); validation errors are \
            `{\"field\": [\"message\"]}`. Messages are Spanish unless `Accept-Language: en`."
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&Security, &ClientErrors),
    paths(
        auth::csrf::get_csrf,
        auth::login::login,
        auth::logout::logout,
        auth::me::me,
        products::list_products,
        p::list::list_payments,
        p::list::get_payment,
        p::checkout::post_checkout,
        p::cancel::post_cancel,
        p::status::get_status,
        p::sync_status::post_sync_status,
        p::check_expired::post_check_expired_sessions,
        p::task_status::get_task_status,
        p::test_cancellation::get_test_cancellation,
        p::debug_cancel::post_debug_cancel,
        p::timeline::get_timeline,
        p::stats::get_payment_stats,
        p::stats::get_payment_stats_public,
        p::webhook::post_webhook,
        health::healthz,
        health::readyz,
    )
)]
pub struct ApiDoc;

/// Declares the two ways to authenticate.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "sessionid",
                "Login session; unsafe methods also need X-CSRFToken = csrftoken cookie",
            ))),
        );
        components.add_security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "Token <key> (manage create_token); no CSRF",
            ))),
        );
    }
}

/// Documents the 4xx answers every operation of a kind can give, so the
/// document does not depend on each annotation remembering them (found by
/// schemathesis's status-code conformance check): a query string that
/// cannot be read (400), a page past the end (404), an invalid or reused
/// `Idempotency-Key` (400, 422), and a request body that is not the expected
/// JSON (400) or is too large (413).
struct ClientErrors;

impl utoipa::Modify for ClientErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{Parameter, ParameterIn};
        use utoipa::openapi::{RefOr, Response};
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let params: Vec<&Parameter> = operation
                    .parameters
                    .iter()
                    .flatten()
                    .filter_map(|p| match p {
                        RefOr::T(p) => Some(p),
                        RefOr::Ref(_) => None,
                    })
                    .collect();
                let has_query = params
                    .iter()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Query));
                let has_page = params.iter().any(|p| p.name == "page");
                let has_key = params.iter().any(|p| p.name == "Idempotency-Key");
                let has_body = operation.request_body.is_some();
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| RefOr::T(Response::new(description)));
                };
                if has_query {
                    add("400", "Invalid query parameters");
                }
                if has_page {
                    add("404", "Invalid page (past the last one)");
                }
                if has_key {
                    add("400", "Invalid Idempotency-Key");
                    add("422", "Idempotency-Key reused with another request");
                }
                if has_body {
                    add("400", "Invalid request body");
                    add("413", "Request body too large");
                }
            }
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::redirect("/api/docs", "/api/docs/"))
        .service(
            SwaggerUi::new("/api/docs/{_:.*}")
                .url("/api/schema/", ApiDoc::openapi())
                .config(Config::default().validator_url("none")),
        );
}
