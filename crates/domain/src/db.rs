//! Connection pool and embedded migrations.

use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::bb8;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolableConnection, RecyclingMethod,
};
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
/// Connections are opened on demand, each by the first task that finds
/// none idle: the task that drives a connection's socket is spawned on
/// that task's runtime (the API gives each server thread its own pool for
/// this reason, see docs/architecture.md). No connection is opened here,
/// so a database that is down does not stop a process from starting.
pub fn pool(database_url: &str, max_size: u32, acquire_timeout: Duration) -> DbPool {
    let mut config = ManagerConfig::default();
    config.recycling_method =
        RecyclingMethod::CustomFunction(Box::new(|conn| Box::pin(async move { check_open(conn) })));
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    bb8::Pool::builder()
        .max_size(max_size)
        .connection_timeout(acquire_timeout)
        .test_on_check_out(true)
        .build_unchecked(manager)
}

/// The check on every checkout from the pool. diesel-async's default sends
/// `SELECT 1` each time: half of the statements of a status read (see
/// docs/benchmarks.md). A connection the server closed (restart,
/// `pg_terminate_backend`) is already known to be closed without a round
/// trip, because its socket reader has seen the end of the stream; it is
/// then discarded and replaced. A connection that dies between this check
/// and its query fails that one request with a 503, as with `SELECT 1`.
fn check_open(conn: &mut AsyncPgConnection) -> diesel::QueryResult<()> {
    if PoolableConnection::is_broken(conn) {
        Err(diesel::result::Error::BrokenTransactionManager)
    } else {
        Ok(())
    }
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
