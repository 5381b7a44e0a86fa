//! `POST /api/auth/logout/`: revokes the session server-side.

use crate::auth::session::{SESSION_COOKIE, removal_cookie};
use crate::auth::{AuthMethod, Authenticated};
use crate::error::{ApiError, OrApi};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::models::login_session::LoginSession;

#[utoipa::path(post, path = "/api/auth/logout/", tag = "auth",
    responses((status = 204, description = "Logged out; the session is revoked")))]
pub async fn logout(
    req: HttpRequest,
    auth: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if let (AuthMethod::Session { .. }, Some(cookie)) = (&auth.method, req.cookie(SESSION_COOKIE)) {
        let mut conn = state.pool.get().await.or_api(auth.lang)?;
        LoginSession::delete(&mut conn, cookie.value())
            .await
            .or_api(auth.lang)?;
    }
    Ok(HttpResponse::NoContent()
        .cookie(removal_cookie(state.settings.cookie_secure))
        .finish())
}
