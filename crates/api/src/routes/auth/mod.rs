//! `/api/auth/`: CSRF cookie, login, logout, current user.

pub mod csrf;
pub mod login;
pub mod logout;
pub mod me;

use serde_json::{Value, json};

pub fn user_json(user: &domain::models::user::User) -> Value {
    json!({ "id": user.id, "email": user.email, "is_staff": user.is_staff })
}
