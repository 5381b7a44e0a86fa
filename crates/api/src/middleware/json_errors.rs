//! Every error answer is JSON `{"detail": ...}` in the caller's language,
//! including the ones actix produces itself (unknown route 404, 405,
//! oversized body 413, 429 from the rate limiter, malformed path or query)
//! and CORS's refusal of a preflight from an origin it does not allow.

use crate::lang::lang_of;
use crate::messages::{self, Msg};
use actix_cors::CorsError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};
use domain::i18n::Lang;
use serde_json::json;

fn message(status: StatusCode) -> Msg {
    match status {
        StatusCode::NOT_FOUND => messages::NOT_FOUND,
        StatusCode::PAYLOAD_TOO_LARGE => messages::PAYLOAD_TOO_LARGE,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => messages::UNSUPPORTED_MEDIA_TYPE,
        StatusCode::TOO_MANY_REQUESTS => messages::TOO_MANY_REQUESTS,
        // The one 503 rendered outside a handler: the login rate limit's
        // store, which is PostgreSQL.
        StatusCode::SERVICE_UNAVAILABLE => messages::DATABASE_UNAVAILABLE,
        StatusCode::BAD_REQUEST => messages::MALFORMED_JSON,
        _ => messages::INTERNAL,
    }
}

/// Why CORS refused a preflight: a frontend developer whose origin is
/// allowed must not be told it is not when a header or method is the cause.
fn cors_message(refusal: &CorsError) -> Msg {
    match refusal {
        CorsError::MethodNotAllowed => messages::CORS_METHOD_NOT_ALLOWED,
        CorsError::HeadersNotAllowed => messages::CORS_HEADERS_NOT_ALLOWED,
        CorsError::MissingRequestMethod
        | CorsError::BadRequestMethod
        | CorsError::BadRequestHeaders => messages::CORS_BAD_PREFLIGHT,
        _ => messages::ORIGIN_NOT_ALLOWED,
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

/// DRF's words for a 405, naming the method.
fn method_not_allowed(method: &Method, lang: Lang) -> String {
    match lang {
        Lang::Es => format!("Método \"{method}\" no permitido."),
        Lang::En => format!("Method \"{method}\" not allowed."),
    }
}

fn json_error(
    status: StatusCode,
    old: &HeaderMap,
    cause: Option<&Error>,
    method: &Method,
    lang: Lang,
) -> HttpResponse {
    let detail = match cause.and_then(|e| e.as_error::<CorsError>()) {
        Some(refusal) => cors_message(refusal).get(lang).to_owned(),
        None if status == StatusCode::METHOD_NOT_ALLOWED => method_not_allowed(method, lang),
        None => match message(status) {
            m if m == messages::INTERNAL && status.is_client_error() => {
                status.canonical_reason().unwrap_or("Error").to_owned()
            }
            m => m.get(lang).to_owned(),
        },
    };
    let mut response = HttpResponse::build(status);
    for (name, value) in old {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.append_header((name.clone(), value.clone()));
        }
    }
    response.json(json!({ "detail": detail }))
}

pub async fn json_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, Error> {
    let lang = lang_of(req.headers());
    // Handler and extractor errors arrive here already rendered as responses.
    let res = next.call(req).await?;
    if res.status().as_u16() < 400 || is_json(res.headers()) {
        return Ok(res.map_into_left_body());
    }
    let method = res.request().method().clone();
    let replacement = json_error(
        res.status(),
        res.headers(),
        res.response().error(),
        &method,
        lang,
    );
    let (http_req, _) = res.into_parts();
    Ok(ServiceResponse::new(http_req, replacement).map_into_right_body())
}
