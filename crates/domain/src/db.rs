//! Connection pool and embedded migrations.

use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::bb8;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolError, PoolableConnection, RecyclingMethod,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

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
    config.custom_setup = Box::new(|url| Box::pin(connect(url.to_owned())));
    config.recycling_method =
        RecyclingMethod::CustomFunction(Box::new(|conn| Box::pin(async move { check_open(conn) })));
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    bb8::Pool::builder()
        .max_size(max_size)
        .connection_timeout(acquire_timeout)
        .test_on_check_out(true)
        .error_sink(Box::new(RememberConnectErrors))
        .build_unchecked(manager)
}

async fn connect(url: String) -> diesel::ConnectionResult<AsyncPgConnection> {
    establish(&url).await
}

/// `AsyncPgConnection::establish`, keeping the cause of a failure:
/// diesel-async reports a refused connection as only "error connecting to
/// server", the cause being a source its message leaves out.
pub async fn establish(url: &str) -> diesel::ConnectionResult<AsyncPgConnection> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| diesel::ConnectionError::BadConnection(with_causes(&e)))?;
    AsyncPgConnection::try_from_client_and_connection(client, connection).await
}

fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        message = format!("{message}: {e}");
        cause = e.source();
    }
    message
}

/// A failure to open a connection younger than this explains a timeout.
const CONNECT_ERROR_RELEVANT: Duration = Duration::from_secs(60);

/// The last failure of any pool of this process to open a connection. bb8
/// drops these and callers see only "timed out": an operator needs
/// "Connection refused" or "password authentication failed".
static LAST_CONNECT_ERROR: Mutex<Option<(Instant, String)>> = Mutex::new(None);

#[derive(Debug, Clone, Copy)]
struct RememberConnectErrors;

impl ::bb8::ErrorSink<PoolError> for RememberConnectErrors {
    fn sink(&self, error: PoolError) {
        let message = error.to_string();
        let mut last = LAST_CONNECT_ERROR
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Once per new reason: an outage retries on every request.
        if last.as_ref().is_none_or(|(_, seen)| *seen != message) {
            tracing::warn!(target: "payments", error = %message,
                "cannot open a PostgreSQL connection");
        }
        *last = Some((Instant::now(), message));
    }

    fn boxed_clone(&self) -> Box<dyn ::bb8::ErrorSink<PoolError>> {
        Box::new(*self)
    }
}

/// Why the pool gave no connection, with the recent connection error
/// behind a timeout when there is one.
pub fn unavailable_reason(error: &bb8::RunError) -> String {
    match error {
        ::bb8::RunError::TimedOut => timed_out_reason(),
        ::bb8::RunError::User(e) => e.to_string(),
    }
}

/// "timed out waiting for a connection", and why when it is known.
pub fn timed_out_reason() -> String {
    let last = LAST_CONNECT_ERROR
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    match last {
        Some((at, reason)) if at.elapsed() < CONNECT_ERROR_RELEVANT => {
            format!("timed out waiting for a connection; last connection error: {reason}")
        }
        _ => "timed out waiting for a connection".to_owned(),
    }
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
    let conn = establish(database_url)
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
