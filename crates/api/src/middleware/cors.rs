//! CORS: credentials only for the origins in `ALLOWED_ORIGINS` (SPEC §6).

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;

pub fn cors(origins: &[String]) -> Cors {
    let allowed = origins.to_vec();
    Cors::default()
        .allowed_origin_fn(move |origin, _| {
            origin
                .to_str()
                .is_ok_and(|o| allowed.iter().any(|a| a == o))
        })
        .supports_credentials()
        .allowed_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allowed_headers([
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("x-csrftoken"),
            header::HeaderName::from_static("idempotency-key"),
        ])
        // Beyond the headers a browser always lets scripts read: the
        // request id, a replayed idempotent answer, the login back-off.
        .expose_headers([
            super::request_span::REQUEST_ID_HEADER,
            crate::idempotency::REPLAYED_HEADER,
            header::RETRY_AFTER,
        ])
        .max_age(3600)
}

/// actix-cors sends `Access-Control-Allow-Credentials: true` on every
/// answer once credentials are supported, also to origins it does not
/// allow (and to requests with no origin). Browsers ignore it without
/// `Access-Control-Allow-Origin`, but the header should say what the
/// service does: credentials for the allowed origins only.
pub async fn credentials_only_for_allowed_origins(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        headers.remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
    }
    Ok(res)
}
