//! `Idempotency-Key` on checkout and cancel. The key is claimed in a
//! transaction on its own connection (from `AppState::claims`, never the
//! pool the work uses) that stays open while the request is processed: a
//! concurrent duplicate waits on the claim, then replays the saved response. Same key with another body → 422. 5xx answers are not
//! saved, so a retry runs again.

use crate::error::{ApiError, OrApi};
use crate::messages;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use diesel_async::{AnsiTransactionManager, TransactionManager};
use domain::UserId;
use domain::db::DbPool;
use domain::i18n::Lang;
use domain::models::idempotency::{self, Claim, SavedResponse};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const HEADER: &str = "Idempotency-Key";

/// A handler's answer before it becomes an HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn new(status: StatusCode, body: Value) -> Self {
        Self { status, body }
    }

    /// A reply with a typed body.
    pub fn json(status: StatusCode, body: &impl serde::Serialize) -> Self {
        Self::new(status, serde_json::to_value(body).unwrap_or(Value::Null))
    }

    fn into_response(self) -> HttpResponse {
        HttpResponse::build(self.status).json(self.body)
    }
}

/// The validated header, if the client sent one.
pub fn key_of(req: &HttpRequest, lang: Lang) -> Result<Option<String>, ApiError> {
    let Some(raw) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    raw.to_str()
        .ok()
        .map(str::trim)
        .filter(|k| (1..=255).contains(&k.len()))
        .map(|k| Some(k.to_owned()))
        .ok_or_else(|| ApiError::field(HEADER, messages::IDEMPOTENCY_KEY_INVALID.get(lang)))
}

/// SHA-256 over method, path and body: what "the same request" means.
pub fn request_hash(req: &HttpRequest, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(req.path().as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical_body(body));
    hex::encode(hasher.finalize())
}

/// A JSON body by its meaning, not its bytes: a client that re-serialises
/// its state may order keys or space them differently, and may send no
/// body where it sent `{}`. serde_json's maps are sorted (no
/// `preserve_order`), so writing the parsed value back is canonical.
fn canonical_body(body: &[u8]) -> Vec<u8> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return b"{}".to_vec();
    }
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| serde_json::to_vec(&value).ok())
        .unwrap_or_else(|| body.to_vec())
}

fn saved(reply: &Result<Reply, ApiError>) -> Option<SavedResponse> {
    let (status, body) = match reply {
        Ok(r) => (r.status, r.body.clone()),
        Err(e) => (e.status(), e.body()),
    };
    if status.is_server_error() {
        return None;
    }
    Some(SavedResponse {
        status: status.as_u16(),
        body: serde_json::to_vec(&body).unwrap_or_default(),
    })
}

/// Marks an answer replayed from an earlier request with the same key.
pub const REPLAYED_HEADER: actix_web::http::header::HeaderName =
    actix_web::http::header::HeaderName::from_static("idempotent-replayed");

fn replay(saved: SavedResponse) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK))
        .insert_header((REPLAYED_HEADER, "true"))
        .content_type("application/json")
        .body(saved.body)
}

/// How long a duplicate waits for the request holding its key.
const WAIT_FOR_FIRST: std::time::Duration = std::time::Duration::from_secs(30);

/// PostgreSQL gave up waiting for the row lock (SQLSTATE 55P03).
fn is_lock_timeout(error: &diesel::result::Error) -> bool {
    matches!(error, diesel::result::Error::DatabaseError(_, info)
        if info.message().contains("lock timeout"))
}

/// Runs `work` at most once per (user, key); without a key, just runs it.
/// `claims` lends the claim's connection; `work` must take its own from
/// another pool, or concurrent requests deadlock on the one pool.
pub async fn run_once<F>(
    claims: &DbPool,
    user: UserId,
    key: Option<String>,
    request_hash: String,
    lang: Lang,
    work: F,
) -> Result<HttpResponse, ApiError>
where
    F: AsyncFnOnce() -> Result<Reply, ApiError>,
{
    let Some(key) = key else {
        return work().await.map(Reply::into_response);
    };
    let mut guard = claims.get().await.or_api(lang)?;
    let conn = &mut *guard;
    // A manual transaction: if this future is dropped mid-way, the pool
    // sees an open transaction, discards the connection and PostgreSQL
    // rolls the claim back.
    AnsiTransactionManager::begin_transaction(conn)
        .await
        .or_api(lang)?;
    // A duplicate waits for the first request to finish, but not forever.
    let claimed = match diesel_async::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "SET LOCAL lock_timeout = '{}s'",
            WAIT_FOR_FIRST.as_secs()
        )),
        &mut *conn,
    )
    .await
    {
        Ok(_) => idempotency::claim(conn, user, &key, &request_hash).await,
        Err(e) => Err(e),
    };
    let refusal = match claimed {
        Err(e) if is_lock_timeout(&e) => Some(Err(ApiError::new(
            StatusCode::CONFLICT,
            messages::IDEMPOTENCY_IN_PROGRESS,
            lang,
        ))),
        Err(e) => Some(Err(e).or_api(lang)),
        Ok(Claim::New) => None,
        Ok(Claim::Replay(saved)) => Some(Ok(replay(saved))),
        Ok(Claim::Mismatch) => Some(Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            messages::IDEMPOTENCY_MISMATCH,
            lang,
        ))),
        Ok(Claim::InProgress) => Some(Err(ApiError::new(
            StatusCode::CONFLICT,
            messages::IDEMPOTENCY_IN_PROGRESS,
            lang,
        ))),
    };
    if let Some(answer) = refusal {
        AnsiTransactionManager::rollback_transaction(conn)
            .await
            .or_api(lang)?;
        return answer;
    }
    let reply = work().await;
    match saved(&reply) {
        Some(saved) => {
            let stored = idempotency::save_response(conn, user, &key, &saved).await;
            if let Err(e) = stored {
                AnsiTransactionManager::rollback_transaction(conn)
                    .await
                    .or_api(lang)?;
                return Err(e).or_api(lang);
            }
            AnsiTransactionManager::commit_transaction(conn)
                .await
                .or_api(lang)?;
        }
        // Not saved: the claim is rolled back so a retry runs again.
        None => AnsiTransactionManager::rollback_transaction(conn)
            .await
            .or_api(lang)?,
    }
    reply.map(Reply::into_response)
}
