//! `POST /api/auth/login/`: e-mail and password; the same answer for an
//! unknown e-mail and a wrong password (and the same Argon2 cost).

use super::{UserBody, user_body};
use crate::auth::csrf;
use crate::auth::session::{SESSION_COOKIE, csrf_cookie, new_secret, session_cookie};
use crate::error::{ApiError, OrApi};
use crate::lang::Language;
use crate::messages;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::auth::password::{decoy_hash, verify_password_off_thread};
use domain::models::login_session::LoginSession;
use domain::models::user::User;
use domain::values::email::Email;
use serde::Deserialize;
use std::collections::BTreeMap;
use time::OffsetDateTime;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    #[schema(value_type = Option<String>)]
    pub email: Option<Text>,
    #[schema(value_type = Option<String>)]
    pub password: Option<Text>,
}

/// A field meant to hold a string. Any other JSON value is read too, so
/// that it gets a field error in the caller's language rather than the
/// JSON reader's English message about the whole body.
#[derive(Debug)]
pub enum Text {
    Text(String),
    NotAString,
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(text) => Text::Text(text),
            _ => Text::NotAString,
        })
    }
}

fn validate(body: LoginBody, lang: domain::i18n::Lang) -> Result<(Email, String), ApiError> {
    let mut errors = BTreeMap::new();
    let mut text = |field: &str, value: Option<Text>| match value {
        Some(Text::Text(text)) => Some(text),
        Some(Text::NotAString) => {
            errors.insert(field.into(), vec![messages::NOT_A_STRING.get(lang).into()]);
            None
        }
        None => None,
    };
    let email = text("email", body.email);
    let password = text("password", body.password);
    let email = match email.as_deref().map(str::trim) {
        _ if errors.contains_key("email") => None,
        None | Some("") => {
            errors.insert(
                "email".into(),
                vec![messages::FIELD_REQUIRED.get(lang).into()],
            );
            None
        }
        Some(raw) => Email::parse(raw)
            .map_err(|_| {
                errors.insert(
                    "email".into(),
                    vec![messages::INVALID_EMAIL.get(lang).into()],
                );
            })
            .ok(),
    };
    let password = password.filter(|p| !p.is_empty());
    if password.is_none() && !errors.contains_key("password") {
        errors.insert(
            "password".into(),
            vec![messages::FIELD_REQUIRED.get(lang).into()],
        );
    }
    match (email, password) {
        (Some(email), Some(password)) if errors.is_empty() => Ok((email, password)),
        _ => Err(ApiError::Validation(errors)),
    }
}

#[utoipa::path(post, path = "/api/auth/login/", tag = "auth",
    request_body = LoginBody,
    responses((status = 200, description = "Logged in; sets sessionid and rotates csrftoken", body = UserBody),
              (status = 400, description = "Invalid input"),
              (status = 401, description = "Invalid e-mail or password (same answer for both)"),
              (status = 403, description = "CSRF failure: an untrusted Origin, or a token that does not match the cookie"),
              (status = 415, description = "The body is not application/json"),
              (status = 429, description = "Too many attempts")))]
pub async fn login(
    req: HttpRequest,
    Language(lang): Language,
    state: web::Data<AppState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    csrf::check_login(&req, lang)?;
    let (email, password) = validate(body.into_inner(), lang)?;
    let user = {
        let mut conn = state.pool.get().await.or_api(lang)?;
        User::find_by_email(&mut conn, &email).await.or_api(lang)?
    };
    // No pooled connection is held while the password is checked: logins
    // queue for a CPU there, and must not starve other requests of the pool.
    let stored = user
        .as_ref()
        .map_or(decoy_hash(), |u| u.password_hash.as_str())
        .to_owned();
    let verified = verify_password_off_thread(password, stored)
        .await
        .map_err(|e| ApiError::internal(lang, e))?;
    let user = match user {
        Some(user) if verified && user.is_active => user,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                messages::INVALID_CREDENTIALS,
                lang,
            ));
        }
    };
    let mut conn = state.pool.get().await.or_api(lang)?;
    // Rotation: any previous session of this browser ends, a new key starts.
    if let Some(old) = req.cookie(SESSION_COOKIE) {
        LoginSession::delete(&mut conn, old.value())
            .await
            .or_api(lang)?;
    }
    let key = new_secret();
    let csrf_token = new_secret();
    let ttl = state.settings.session_ttl;
    let expires_at = OffsetDateTime::now_utc() + ttl;
    LoginSession::create(&mut conn, &key, user.id, &csrf_token, expires_at)
        .await
        .or_api(lang)?;
    tracing::info!(target: "payments", user_id = %user.id, "user logged in");
    let secure = state.settings.cookie_secure;
    Ok(HttpResponse::Ok()
        .cookie(session_cookie(key, ttl, secure))
        .cookie(csrf_cookie(csrf_token, secure))
        .json(user_body(&user)))
}
