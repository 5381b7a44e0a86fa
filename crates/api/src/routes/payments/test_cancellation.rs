//! `GET /api/payments/test_cancellation/` (staff, or anyone in
//! development): the payments one could cancel, in the seed's shape.

use super::lookup::{parse_id, visibility};
use super::view::timestamp;
use crate::auth::{Authenticated, MaybeAuthenticated};
use crate::error::{ApiError, OrApi};
use crate::lang::Language;
use crate::messages;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use diesel_async::AsyncPgConnection;
use domain::PaymentStatus;
use domain::i18n::Lang;
use domain::models::user::User;
use domain::queries::payments::{PaymentView, Visibility, find_visible, list_visible};
use domain::values::email::Email;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
pub struct TestQuery {
    pub payment_id: Option<String>,
    pub user_email: Option<String>,
}

/// Staff always; anyone logged in when `APP_ENV=development`.
pub fn allowed(auth: &Authenticated, state: &AppState) -> Result<(), ApiError> {
    if auth.is_staff() || state.settings.is_development() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            messages::PERMISSION_DENIED,
            auth.lang,
        ))
    }
}

/// Whose payments the caller may list here: staff everyone's; in
/// development a logged-in user their own and an anonymous caller
/// everyone's (SPEC: "anyone in development"; a development database holds
/// no customer's data). Elsewhere anonymous is 401 and non-staff 403.
fn listing_scope(
    caller: Option<&Authenticated>,
    state: &AppState,
    lang: Lang,
) -> Result<Visibility, ApiError> {
    match caller {
        Some(auth) => allowed(auth, state).map(|()| visibility(auth)),
        None if state.settings.is_development() => Ok(Visibility::All),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            messages::NOT_AUTHENTICATED,
            lang,
        )),
    }
}

/// `user_email` narrows a staff listing to that user's payments, in the
/// query (not after its 100-row limit); `None` when nobody has that
/// e-mail. Anyone else sees their own payments whatever it says.
async fn narrowed_to_user(
    conn: &mut AsyncPgConnection,
    scope: Visibility,
    user_email: Option<&str>,
    lang: Lang,
) -> Result<Option<Visibility>, ApiError> {
    let Some(raw) = user_email else {
        return Ok(Some(scope));
    };
    let email = Email::parse(raw)
        .map_err(|_| ApiError::field("user_email", messages::INVALID_EMAIL.get(lang)))?;
    if scope != Visibility::All {
        return Ok(Some(scope));
    }
    let user = User::find_by_email(conn, &email).await.or_api(lang)?;
    Ok(user.map(|user| Visibility::Owner(user.id)))
}

fn entry(view: &PaymentView, lang: Lang) -> Value {
    let p = &view.payment;
    json!({
        "payment_id": p.id,
        "order_id": p.order_id,
        "payment_status": p.status.as_str(),
        "payment_status_display": p.status.label(lang),
        "order_status": view.order_status.as_str(),
        "order_status_display": view.order_status.label(lang),
        "amount": p.amount().amount_string(),
        "currency": p.currency.as_str(),
        "user_email": view.user_email,
        "stripe_session_id": p.stripe_session_id,
        "created_at": timestamp(p.created_at),
        "stripe": {
            "session_status": p.stripe_session_status,
            "payment_status": p.stripe_payment_status,
            "expires_at": p.expires_at.map(time::OffsetDateTime::unix_timestamp),
        },
    })
}

#[utoipa::path(get, path = "/api/payments/test_cancellation/", tag = "debug",
    params(("payment_id" = Option<String>, Query, description = "One payment"),
           ("user_email" = Option<String>, Query, description = "Payments of this user (staff)")),
    responses((status = 200, description = "{message, payments: [...], test_endpoints}"),
              (status = 401, description = "Anonymous outside development"),
              (status = 403, description = "Not staff outside development"),
              (status = 404, description = "payment_id unknown, malformed or someone else's")))]
pub async fn get_test_cancellation(
    MaybeAuthenticated(caller): MaybeAuthenticated,
    Language(lang): Language,
    state: web::Data<AppState>,
    query: web::Query<TestQuery>,
) -> Result<HttpResponse, ApiError> {
    let scope = listing_scope(caller.as_ref(), &state, lang)?;
    let mut conn = state.pool.get().await.or_api(lang)?;
    let views = if let Some(raw) = query.payment_id.as_deref() {
        let id = parse_id(raw, lang)?;
        let found = find_visible(&conn, id, scope).await.or_api(lang)?;
        vec![found.ok_or_else(|| ApiError::not_found(lang))?]
    } else {
        match narrowed_to_user(&mut conn, scope, query.user_email.as_deref(), lang).await? {
            Some(scope) => {
                let (_, views) = list_visible(&conn, scope, Some(&PaymentStatus::OPEN), 0, 100)
                    .await
                    .or_api(lang)?;
                views
            }
            None => Vec::new(),
        }
    };
    let payments: Vec<Value> = views.iter().map(|v| entry(v, lang)).collect();
    Ok(HttpResponse::Ok().json(json!({
        "message": messages::payments_found(lang, payments.len()),
        "payments": payments,
        "test_endpoints": {
            "cancel": "POST /api/payments/{payment_id}/cancel/",
            "status": "GET /api/payments/{payment_id}/status/",
            "sync": "POST /api/payments/{payment_id}/sync_status/",
        },
    })))
}
