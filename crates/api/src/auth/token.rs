//! `Authorization: Token <key>` (DRF's TokenAuthentication header).

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;

/// What the `Authorization` header says.
pub enum TokenHeader {
    Absent,
    Token(String),
    /// Present but not `Token <key>`.
    Malformed,
}

pub fn token_header(req: &HttpRequest) -> TokenHeader {
    let Some(value) = req.headers().get(AUTHORIZATION) else {
        return TokenHeader::Absent;
    };
    let Ok(value) = value.to_str() else {
        return TokenHeader::Malformed;
    };
    let mut parts = value.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(scheme), Some(key), None) if scheme.eq_ignore_ascii_case("token") => {
            TokenHeader::Token(key.to_owned())
        }
        (Some(scheme), _, _) if !scheme.eq_ignore_ascii_case("token") => TokenHeader::Absent,
        _ => TokenHeader::Malformed,
    }
}
