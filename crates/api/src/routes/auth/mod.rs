//! `/api/auth/`: CSRF cookie, login, logout, current user.

pub mod csrf;
pub mod login;
pub mod logout;
pub mod me;

use serde::Serialize;
use utoipa::ToSchema;

/// The logged-in user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    pub id: i64,
    #[schema(example = "ana@example.com")]
    pub email: String,
    pub is_staff: bool,
}

pub fn user_body(user: &domain::models::user::User) -> UserBody {
    UserBody {
        id: user.id.0,
        email: user.email.clone(),
        is_staff: user.is_staff,
    }
}
