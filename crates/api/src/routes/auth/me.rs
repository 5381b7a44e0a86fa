//! `GET /api/auth/me/`.

use super::{UserBody, user_body};
use crate::auth::Authenticated;
use actix_web::HttpResponse;

#[utoipa::path(get, path = "/api/auth/me/", tag = "auth",
    responses((status = 200, description = "The logged-in user", body = UserBody), (status = 401, description = "Not logged in")))]
pub async fn me(auth: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(user_body(&auth.user))
}
