//! Saved responses for `Idempotency-Key` (zero2prod's pattern plus a
//! request hash). A request claims its key by inserting the row inside a
//! transaction that stays open until its response is saved: a concurrent
//! duplicate blocks on the insert and then replays the saved response.

use crate::schema::idempotency_keys;
use crate::values::ids::UserId;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::OffsetDateTime;

/// A response saved under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// What a request must do with its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: process, then [`save_response`] in the same transaction.
    New,
    /// Same key, same request: answer with what was saved.
    Replay(SavedResponse),
    /// Same key, different request: refuse.
    Mismatch,
    /// Claimed but no response saved (only possible for rows written by
    /// a process that did not follow this protocol).
    InProgress,
}

/// Claims `key` for `user`; call inside a transaction.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    user: UserId,
    key: &str,
    request_hash: &str,
) -> QueryResult<Claim> {
    let inserted = diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::user_id.eq(user),
            idempotency_keys::idempotency_key.eq(key),
            idempotency_keys::request_hash.eq(request_hash),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let (hash, status, body): (String, Option<i16>, Option<Vec<u8>>) = idempotency_keys::table
        .find((user, key))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::response_status,
            idempotency_keys::response_body,
        ))
        .first(conn)
        .await?;
    if hash != request_hash {
        return Ok(Claim::Mismatch);
    }
    Ok(match (status, body) {
        (Some(status), Some(body)) => Claim::Replay(SavedResponse {
            status: u16::try_from(status).unwrap_or(500),
            body,
        }),
        _ => Claim::InProgress,
    })
}

/// Saves the response of a claimed key.
pub async fn save_response(
    conn: &mut AsyncPgConnection,
    user: UserId,
    key: &str,
    response: &SavedResponse,
) -> QueryResult<()> {
    let status = i16::try_from(response.status).unwrap_or(i16::MAX);
    diesel::update(idempotency_keys::table.find((user, key)))
        .set((
            idempotency_keys::response_status.eq(Some(status)),
            idempotency_keys::response_body.eq(Some(&response.body)),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Forgets keys older than `before`.
pub async fn delete_before(
    conn: &mut AsyncPgConnection,
    before: OffsetDateTime,
) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(before)))
        .execute(conn)
        .await
}
