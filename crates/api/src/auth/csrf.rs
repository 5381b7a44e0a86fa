//! Django's double-submit CSRF check: on unsafe methods a cookie-
//! authenticated request must send `X-CSRFToken` equal to the `csrftoken`
//! cookie (and, once logged in, equal to the session's token). Like Django,
//! an `Origin` header, when sent, must be this site or a trusted origin
//! (`ALLOWED_ORIGINS`). An anonymous login is checked as DRF checks it
//! ([`check_login`]).

use super::session::{CSRF_COOKIE, CSRF_HEADER};
use crate::error::ApiError;
use crate::messages::{self, Msg};
use crate::state::AppState;
use actix_web::HttpRequest;
use actix_web::http::{Method, StatusCode, header};
use domain::i18n::Lang;
use subtle::ConstantTimeEq;

pub fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn failure(reason: Msg, lang: Lang) -> ApiError {
    ApiError::detail(
        StatusCode::FORBIDDEN,
        format!("{}: {}", messages::CSRF_FAILED.get(lang), reason.get(lang)),
    )
}

/// The request's own origin (`scheme://host`) or one of `ALLOWED_ORIGINS`.
fn origin_trusted(req: &HttpRequest, origin: &str) -> bool {
    let info = req.connection_info();
    if origin == format!("{}://{}", info.scheme(), info.host()) {
        return true;
    }
    req.app_data::<actix_web::web::Data<AppState>>()
        .is_some_and(|state| state.settings.allowed_origins.iter().any(|o| o == origin))
}

/// Checks the header against the cookie and, if given, the session's token.
pub fn check(req: &HttpRequest, session_token: Option<&str>, lang: Lang) -> Result<(), ApiError> {
    if is_safe(req.method()) {
        return Ok(());
    }
    check_origin(req, lang)?;
    let cookie = req
        .cookie(CSRF_COOKIE)
        .ok_or_else(|| failure(messages::CSRF_COOKIE_MISSING, lang))?;
    let header = sent_token(req).ok_or_else(|| failure(messages::CSRF_TOKEN_MISSING, lang))?;
    let matches_cookie = constant_time_eq(header.as_bytes(), cookie.value().as_bytes());
    let matches_session =
        session_token.is_none_or(|t| constant_time_eq(header.as_bytes(), t.as_bytes()));
    if matches_cookie && matches_session {
        Ok(())
    } else {
        Err(failure(messages::CSRF_TOKEN_INCORRECT, lang))
    }
}

/// The check of an anonymous login. DRF enforces CSRF only for a user its
/// session authenticates, so a script or a Django-era client logs in with
/// no token. What CSRF protects a login from — a page of another site
/// logging the victim's browser into the attacker's account — is still
/// refused: browsers send `Origin` on every cross-site POST, and an
/// untrusted one fails. A token that is sent must match the cookie.
pub fn check_login(req: &HttpRequest, lang: Lang) -> Result<(), ApiError> {
    check_origin(req, lang)?;
    match (req.cookie(CSRF_COOKIE), sent_token(req)) {
        (Some(cookie), Some(header))
            if !constant_time_eq(header.as_bytes(), cookie.value().as_bytes()) =>
        {
            Err(failure(messages::CSRF_TOKEN_INCORRECT, lang))
        }
        (None, Some(_)) => Err(failure(messages::CSRF_COOKIE_MISSING, lang)),
        _ => Ok(()),
    }
}

/// An `Origin` header, when sent, must be this site or a trusted origin.
fn check_origin(req: &HttpRequest, lang: Lang) -> Result<(), ApiError> {
    match req.headers().get(header::ORIGIN) {
        Some(origin) if !origin_trusted(req, origin.to_str().unwrap_or_default()) => {
            Err(failure(messages::CSRF_ORIGIN, lang))
        }
        _ => Ok(()),
    }
}

fn sent_token(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}
