//! The language of the answer, from `Accept-Language` (Spanish by default).

use actix_web::dev::Payload;
use actix_web::http::header::ACCEPT_LANGUAGE;
use actix_web::{FromRequest, HttpRequest};
use domain::i18n::Lang;
use std::future::{Ready, ready};

#[derive(Debug, Clone, Copy)]
pub struct Language(pub Lang);

pub fn request_lang(req: &HttpRequest) -> Lang {
    lang_of(req.headers())
}

pub fn lang_of(headers: &actix_web::http::header::HeaderMap) -> Lang {
    Lang::from_accept_language(headers.get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()))
}

impl FromRequest for Language {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Language(request_lang(req))))
    }
}
