//! The `Authenticated` and `Staff` extractors.

use super::csrf;
use super::session::SESSION_COOKIE;
use super::token::{TokenHeader, token_header};
use crate::error::{ApiError, OrApi};
use crate::lang::request_lang;
use crate::messages;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use diesel_async::AsyncPgConnection;
use domain::audit::{Actor, AuditSource};
use domain::i18n::Lang;
use domain::models::login_session::LoginSession;
use domain::models::user::{User, user_for_api_token};
use futures::future::{LocalBoxFuture, Ready, ready};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// Logged in through the `sessionid` cookie.
    Session {
        csrf_token: String,
    },
    Token,
}

/// A logged-in, active user.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    pub method: AuthMethod,
    pub lang: Lang,
}

impl Authenticated {
    pub fn is_staff(&self) -> bool {
        self.user.is_staff
    }

    /// The audit actor: the owner acts as `user`, anyone else as `staff`.
    pub fn actor_for(&self, owner: domain::UserId) -> Actor {
        let source = if owner == self.user.id {
            AuditSource::User
        } else {
            AuditSource::Staff
        };
        Actor::new(source, self.user.email.clone())
    }
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(Lang::Es, anyhow::anyhow!("AppState missing")))
}

fn not_authenticated(req: &HttpRequest) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        messages::NOT_AUTHENTICATED,
        request_lang(req),
    )
}

/// Looks the request's credentials up on `conn`: `Ok(None)` when it has
/// none (or an unknown session), `Err` for a bad token or a CSRF failure.
async fn look_up(
    req: &HttpRequest,
    conn: &AsyncPgConnection,
) -> Result<Option<Authenticated>, ApiError> {
    let lang = request_lang(req);
    match token_header(req) {
        TokenHeader::Token(key) => {
            return match user_for_api_token(conn, &key).await.or_api(lang)? {
                Some(user) => Ok(Some(Authenticated {
                    user,
                    method: AuthMethod::Token,
                    lang,
                })),
                None => Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    messages::INVALID_TOKEN,
                    lang,
                )),
            };
        }
        TokenHeader::Malformed => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                messages::INVALID_TOKEN,
                lang,
            ));
        }
        TokenHeader::Absent => {}
    }
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let found = LoginSession::find_valid(conn, cookie.value(), OffsetDateTime::now_utc())
        .await
        .or_api(lang)?;
    let Some((session, user)) = found else {
        return Ok(None);
    };
    csrf::check(req, Some(&session.csrf_token), lang)?;
    Ok(Some(Authenticated {
        user,
        method: AuthMethod::Session {
            csrf_token: session.csrf_token,
        },
        lang,
    }))
}

/// Finds who is calling, if anyone; `Err` for a bad token or CSRF failure.
pub async fn identify(req: &HttpRequest) -> Result<Option<Authenticated>, ApiError> {
    let has_credentials =
        !matches!(token_header(req), TokenHeader::Absent) || req.cookie(SESSION_COOKIE).is_some();
    if !has_credentials {
        return Ok(None);
    }
    let state = state(req)?;
    let conn = state.pool.get().await.or_api(request_lang(req))?;
    look_up(req, &conn).await
}

/// A request whose credentials are not looked up yet: the handler looks
/// them up together with its own first query, in one round trip to
/// PostgreSQL (pipelined), instead of one round trip each.
pub struct Caller {
    req: HttpRequest,
    pub lang: Lang,
}

impl Caller {
    /// The logged-in, active caller (401 otherwise, like
    /// [`Authenticated`]) and what `work` answered; both run on `conn`.
    pub async fn authenticate_along<T>(
        &self,
        conn: &AsyncPgConnection,
        work: impl Future<Output = T>,
    ) -> Result<(Authenticated, T), ApiError> {
        let (caller, answer) = futures::join!(look_up(&self.req, conn), work);
        let caller = caller?.ok_or_else(|| not_authenticated(&self.req))?;
        Ok((caller, answer))
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Caller {
            req: req.clone(),
            lang: request_lang(req),
        }))
    }
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { identify(&req).await?.ok_or_else(|| not_authenticated(&req)) })
    }
}

/// A logged-in staff user.
#[derive(Debug, Clone)]
pub struct Staff(pub Authenticated);

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let auth = Authenticated::from_request(req, payload);
        Box::pin(async move {
            let auth = auth.await?;
            if auth.is_staff() {
                Ok(Staff(auth))
            } else {
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    messages::PERMISSION_DENIED,
                    auth.lang,
                ))
            }
        })
    }
}

/// The caller if logged in (anonymous allowed).
#[derive(Debug, Clone)]
pub struct MaybeAuthenticated(pub Option<Authenticated>);

impl FromRequest for MaybeAuthenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { identify(&req).await.map(MaybeAuthenticated) })
    }
}
