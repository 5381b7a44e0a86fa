//! Server-side login sessions. The browser holds a random key in the
//! `sessionid` cookie; only its SHA-256 is stored, with the session's CSRF
//! token and expiry.

use crate::models::user::{User, secret_digest};
use crate::schema::{sessions, users};
use crate::values::ids::UserId;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub struct LoginSession {
    pub key_hash: String,
    pub user_id: UserId,
    pub csrf_token: String,
    pub expires_at: OffsetDateTime,
}

impl LoginSession {
    /// Stores a session for `key` (the secret cookie value).
    pub async fn create(
        conn: &mut AsyncPgConnection,
        key: &str,
        user: UserId,
        csrf_token: &str,
        expires_at: OffsetDateTime,
    ) -> QueryResult<()> {
        diesel::insert_into(sessions::table)
            .values((
                sessions::key_hash.eq(secret_digest(key)),
                sessions::user_id.eq(user),
                sessions::csrf_token.eq(csrf_token),
                sessions::expires_at.eq(expires_at),
            ))
            .execute(conn)
            .await
            .map(drop)
    }

    /// The unexpired session of `key` and its active user.
    pub async fn find_valid(
        conn: &AsyncPgConnection,
        key: &str,
        now: OffsetDateTime,
    ) -> QueryResult<Option<(LoginSession, User)>> {
        sessions::table
            .inner_join(users::table)
            .filter(sessions::key_hash.eq(secret_digest(key)))
            .filter(sessions::expires_at.gt(now))
            .filter(users::is_active.eq(true))
            .select((LoginSession::as_select(), User::as_select()))
            .first(&mut { conn })
            .await
            .optional()
    }

    /// Revokes the session of `key` (logout, or rotation at login).
    pub async fn delete(conn: &mut AsyncPgConnection, key: &str) -> QueryResult<usize> {
        diesel::delete(sessions::table.filter(sessions::key_hash.eq(secret_digest(key))))
            .execute(conn)
            .await
    }

    /// Forgets sessions that expired before `now`.
    pub async fn delete_expired(
        conn: &mut AsyncPgConnection,
        now: OffsetDateTime,
    ) -> QueryResult<usize> {
        diesel::delete(sessions::table.filter(sessions::expires_at.le(now)))
            .execute(conn)
            .await
    }
}
