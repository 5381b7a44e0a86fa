//! Fixed-window rate-limit counters in PostgreSQL, so every API replica
//! shares them.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::time::Duration;
use time::OffsetDateTime;

/// The state of a key's window after counting one hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct WindowCount {
    #[diesel(sql_type = Integer)]
    pub hits: i32,
    #[diesel(sql_type = Timestamptz)]
    pub window_start: OffsetDateTime,
}

/// Counts one hit for `key` in a window of `interval`; a window that has
/// passed starts again at one. Atomic under concurrency (one upsert).
pub async fn hit(
    conn: &mut AsyncPgConnection,
    key: &str,
    interval: Duration,
) -> QueryResult<WindowCount> {
    let millis = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
    diesel::sql_query(
        "INSERT INTO rate_limit_buckets AS b (key, window_start, hits) VALUES ($1, now(), 1) \
         ON CONFLICT (key) DO UPDATE SET \
           hits = CASE WHEN b.window_start + $2 * interval '1 millisecond' <= now() \
                       THEN 1 ELSE b.hits + 1 END, \
           window_start = CASE WHEN b.window_start + $2 * interval '1 millisecond' <= now() \
                       THEN now() ELSE b.window_start END \
         RETURNING hits, window_start",
    )
    .bind::<Text, _>(key)
    .bind::<BigInt, _>(millis)
    .get_result(conn)
    .await
}

/// Takes one hit back (a request that should not count).
pub async fn undo_hit(conn: &mut AsyncPgConnection, key: &str) -> QueryResult<()> {
    diesel::sql_query("UPDATE rate_limit_buckets SET hits = GREATEST(hits - 1, 0) WHERE key = $1")
        .bind::<Text, _>(key)
        .execute(conn)
        .await
        .map(drop)
}

/// Removes windows that started before `before`.
pub async fn delete_stale(
    conn: &mut AsyncPgConnection,
    before: OffsetDateTime,
) -> QueryResult<usize> {
    use crate::schema_api::rate_limit_buckets;
    diesel::delete(rate_limit_buckets::table.filter(rate_limit_buckets::window_start.lt(before)))
        .execute(conn)
        .await
}
