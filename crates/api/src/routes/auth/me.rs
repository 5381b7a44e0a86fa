//! `GET /api/auth/me/`.

use super::user_json;
use crate::auth::Authenticated;
use actix_web::HttpResponse;

#[utoipa::path(get, path = "/api/auth/me/", tag = "auth",
    responses((status = 200, description = "{id, email, is_staff}"), (status = 401, description = "Not logged in")))]
pub async fn me(auth: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(user_json(&auth.user))
}
