//! Periodic clean-up of what the API leaves behind: expired login
//! sessions, old rate-limit windows, and idempotency keys past their
//! replay window. Safe to run on every replica at once (plain DELETEs).

use domain::db::DbPool;
use domain::models::{idempotency, login_session::LoginSession, rate_limit};
use std::time::Duration;
use time::OffsetDateTime;

/// How long an `Idempotency-Key` keeps replaying its response.
pub const IDEMPOTENCY_WINDOW: time::Duration = time::Duration::hours(24);
const EVERY: Duration = Duration::from_secs(600);

async fn sweep_once(pool: &DbPool) -> Result<(usize, usize, usize), String> {
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    let now = OffsetDateTime::now_utc();
    let sessions = LoginSession::delete_expired(&mut conn, now)
        .await
        .map_err(|e| e.to_string())?;
    let windows = rate_limit::delete_stale(&mut conn, now - time::Duration::hours(1))
        .await
        .map_err(|e| e.to_string())?;
    let keys = idempotency::delete_before(&mut conn, now - IDEMPOTENCY_WINDOW)
        .await
        .map_err(|e| e.to_string())?;
    Ok((sessions, windows, keys))
}

/// Runs the clean-up every ten minutes until the runtime stops.
pub fn spawn(pool: DbPool) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(EVERY);
        loop {
            ticker.tick().await;
            match sweep_once(&pool).await {
                Ok((sessions, windows, keys)) => tracing::debug!(target: "payments",
                    sessions, windows, keys, "API clean-up done"),
                Err(error) => tracing::warn!(target: "payments", %error, "API clean-up failed"),
            }
        }
    });
}
