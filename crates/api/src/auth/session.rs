//! Session and CSRF cookies, and the random secrets they carry.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use rand::RngCore;

pub const SESSION_COOKIE: &str = "sessionid";
pub const CSRF_COOKIE: &str = "csrftoken";
pub const CSRF_HEADER: &str = "X-CSRFToken";

/// 32 random bytes, hex encoded: a session key or a CSRF token.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The `sessionid` cookie: HttpOnly, SameSite=Lax, Secure per config.
pub fn session_cookie(key: String, max_age: std::time::Duration, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, key)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(CookieDuration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        ))
        .finish()
}

/// The `csrftoken` cookie: readable by the frontend (not HttpOnly), like Django's.
pub fn csrf_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build(CSRF_COOKIE, token)
        .path("/")
        .http_only(false)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(CookieDuration::days(365))
        .finish()
}

/// An expired `sessionid`, which makes the browser drop it.
pub fn removal_cookie(secure: bool) -> Cookie<'static> {
    let mut cookie = session_cookie(String::new(), std::time::Duration::ZERO, secure);
    cookie.make_removal();
    cookie
}
