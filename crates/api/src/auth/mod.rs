//! Who is calling: a server-side session (`sessionid` cookie, with CSRF on
//! unsafe methods) or an API token (`Authorization: Token <key>`, no CSRF).

pub mod csrf;
pub mod extract;
pub mod session;
pub mod token;

pub use extract::{AuthMethod, Authenticated, Caller, MaybeAuthenticated, Staff};
