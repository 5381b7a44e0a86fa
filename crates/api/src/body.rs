//! Reading request bodies by hand: where DRF-style field errors are
//! needed (malformed JSON → 400 `{"detail"}`, bad fields → 400
//! `{"field": [..]}`), and where the body must be read after the caller
//! is known.

use crate::error::ApiError;
use crate::messages;
use actix_web::http::StatusCode;
use actix_web::web::{Bytes, Payload};
use domain::i18n::Lang;
use serde_json::{Map, Value};

/// The whole body, at most `limit` bytes (413 beyond, as the `Bytes`
/// extractor answers).
pub async fn limited_bytes(payload: Payload, limit: usize, lang: Lang) -> Result<Bytes, ApiError> {
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(_)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            messages::INVALID_BODY,
            lang,
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            messages::PAYLOAD_TOO_LARGE,
            lang,
        )),
    }
}

/// The body as a JSON object; an empty body counts as `{}` when allowed.
pub fn json_object(
    bytes: &[u8],
    allow_empty: bool,
    lang: Lang,
) -> Result<Map<String, Value>, ApiError> {
    if allow_empty && bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(not_an_object(lang)),
        Err(e) => Err(ApiError::detail(
            StatusCode::BAD_REQUEST,
            format!("{}: {e}", messages::MALFORMED_JSON.get(lang)),
        )),
    }
}

/// The answer to valid JSON that is not an object.
pub fn not_an_object(lang: Lang) -> ApiError {
    ApiError::detail(
        StatusCode::BAD_REQUEST,
        format!(
            "{}: {}",
            messages::INVALID_BODY.get(lang),
            lang.pick("se esperaba un objeto JSON", "a JSON object was expected")
        ),
    )
}

/// An optional boolean field (absent → `false`).
pub fn flag(map: &Map<String, Value>, field: &str, lang: Lang) -> Result<bool, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::field(field, messages::NOT_A_BOOLEAN.get(lang))),
    }
}
