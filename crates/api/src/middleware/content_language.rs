//! Every answer says which language it is in (`Content-Language`) and that
//! it depends on `Accept-Language` (`Vary`), so that a browser cache, a
//! service worker or a CDN never serves a Spanish answer to an English
//! request or the other way round.

use crate::idempotency::REPLAYED_HEADER;
use crate::lang::lang_of;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use domain::i18n::Lang;

pub async fn content_language(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let lang = lang_of(req.headers());
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    // A replayed idempotent answer is in the first request's language,
    // which is not known here: better no label than a wrong one.
    if !headers.contains_key(REPLAYED_HEADER) {
        headers.insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(match lang {
                Lang::Es => "es",
                Lang::En => "en",
            }),
        );
    }
    headers.append(header::VARY, HeaderValue::from_static("Accept-Language"));
    Ok(res)
}
