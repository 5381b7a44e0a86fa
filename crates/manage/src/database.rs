//! Opening the one PostgreSQL connection a command needs.

use crate::messages::redact_url;
use anyhow::Context;
use diesel_async::AsyncPgConnection;
use std::time::Duration;

/// How long a command waits for PostgreSQL before giving up; use
/// `wait_for_db` first when the server may still be starting.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn connect(database_url: &str) -> anyhow::Result<AsyncPgConnection> {
    let where_to = redact_url(database_url);
    tokio::time::timeout(CONNECT_TIMEOUT, domain::db::establish(database_url))
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "timed out after {}s connecting to PostgreSQL",
                CONNECT_TIMEOUT.as_secs()
            )
        })
        .and_then(|connected| connected.map_err(anyhow::Error::from))
        .with_context(|| format!("cannot connect to PostgreSQL at {where_to}"))
}

/// A pool for commands that work on several connections at once (the
/// sweep reconciles payments concurrently).
pub async fn connect_pool(database_url: &str, size: u32) -> anyhow::Result<domain::db::DbPool> {
    let pool = domain::db::pool(database_url, size, CONNECT_TIMEOUT);
    // Fail now, naming the database, rather than in the first command.
    drop(pool.get().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot connect to PostgreSQL at {}: {}",
            redact_url(database_url),
            domain::db::unavailable_reason(&e)
        )
    })?);
    Ok(pool)
}
