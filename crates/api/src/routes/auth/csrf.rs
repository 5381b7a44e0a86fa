//! `GET /api/auth/csrf/`: sets the `csrftoken` cookie and returns it.

use crate::auth::session::{CSRF_COOKIE, csrf_cookie, new_secret};
use crate::auth::{AuthMethod, MaybeAuthenticated};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

/// The CSRF token to send back as `X-CSRFToken`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CsrfBody {
    #[serde(rename = "csrfToken")]
    pub csrf_token: String,
}

#[utoipa::path(get, path = "/api/auth/csrf/", tag = "auth",
    responses((status = 200, description = "Sets the csrftoken cookie", body = CsrfBody)))]
pub async fn get_csrf(
    req: HttpRequest,
    caller: MaybeAuthenticated,
    state: web::Data<AppState>,
) -> HttpResponse {
    // Logged in: the session's token; otherwise keep the cookie's or make one.
    let token = match caller.0.map(|a| a.method) {
        Some(AuthMethod::Session { csrf_token }) => csrf_token,
        _ => req
            .cookie(CSRF_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
            .unwrap_or_else(new_secret),
    };
    HttpResponse::Ok()
        .cookie(csrf_cookie(token.clone(), state.settings.cookie_secure))
        .json(CsrfBody { csrf_token: token })
}
