//! Connection pool and embedded migrations.

use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::bb8;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::time::Duration;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

pub type DbPool = bb8::Pool<AsyncPgConnection>;
pub type PooledConn<'a> = bb8::PooledConnection<'a, AsyncPgConnection>;

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
    #[error("migration failed: {0}")]
    Migrate(String),
}

/// A pool that gives up on a connection after `acquire_timeout`, so a
/// database outage turns into a quick 503 instead of a hung request.
pub async fn connect_pool(
    database_url: &str,
    max_size: u32,
    acquire_timeout: Duration,
) -> Result<DbPool, DbSetupError> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(database_url);
    bb8::Pool::builder()
        .max_size(max_size)
        .connection_timeout(acquire_timeout)
        .test_on_check_out(true)
        .build(manager)
        .await
        .map_err(|e| DbSetupError::Connect(e.to_string()))
}

/// Applies every pending migration; returns the versions applied.
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, DbSetupError> {
    use diesel_async::AsyncConnection;
    let conn = AsyncPgConnection::establish(database_url)
        .await
        .map_err(|e| DbSetupError::Connect(e.to_string()))?;
    let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
    // The harness is synchronous: keep it off the async worker threads.
    tokio::task::spawn_blocking(move || {
        conn.run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| DbSetupError::Migrate(e.to_string()))
    })
    .await
    .map_err(|e| DbSetupError::Migrate(e.to_string()))?
}
