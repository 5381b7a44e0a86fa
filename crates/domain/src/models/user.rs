//! User accounts and API tokens.

use crate::schema::{api_tokens, users};
use crate::values::email::Email;
use crate::values::ids::UserId;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub password_hash: String,
    pub is_staff: bool,
    pub is_active: bool,
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

impl User {
    pub async fn find_by_email(
        conn: &mut AsyncPgConnection,
        email: &Email,
    ) -> QueryResult<Option<Self>> {
        users::table
            .filter(lower(users::email).eq(email.as_str()))
            .select(Self::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<Option<Self>> {
        users::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Creates the user, or updates password and staff flag if the e-mail
    /// exists (so `seed_demo` and `create_user` can be run again).
    pub async fn upsert(
        conn: &mut AsyncPgConnection,
        email: &Email,
        password_hash: &str,
        is_staff: bool,
    ) -> QueryResult<Self> {
        if let Some(existing) = Self::find_by_email(conn, email).await? {
            return diesel::update(users::table.find(existing.id))
                .set((
                    users::password_hash.eq(password_hash),
                    users::is_staff.eq(is_staff),
                    users::is_active.eq(true),
                ))
                .returning(Self::as_returning())
                .get_result(conn)
                .await;
        }
        diesel::insert_into(users::table)
            .values((
                users::email.eq(email.as_str()),
                users::password_hash.eq(password_hash),
                users::is_staff.eq(is_staff),
            ))
            .returning(Self::as_returning())
            .get_result(conn)
            .await
    }
}

/// SHA-256 of a secret (token or session key), the only form stored.
pub fn secret_digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Stores a new API token for the user; `key` is the secret the user gets.
pub async fn insert_api_token(
    conn: &mut AsyncPgConnection,
    user: UserId,
    key: &str,
) -> QueryResult<()> {
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::key_hash.eq(secret_digest(key)),
            api_tokens::user_id.eq(user),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// The active user a token belongs to.
pub async fn user_for_api_token(conn: &AsyncPgConnection, key: &str) -> QueryResult<Option<User>> {
    api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::key_hash.eq(secret_digest(key)))
        .filter(users::is_active.eq(true))
        .select(User::as_select())
        .first(&mut { conn })
        .await
        .optional()
}
