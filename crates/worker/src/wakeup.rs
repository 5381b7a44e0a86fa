//! Wake on push, across processes: every push is announced on its queue's
//! Redis pub/sub channel, and the workers of that queue fetch at once
//! instead of at their next poll.
//!
//! apalis-redis only polls (its in-process `WakeOnPush` never sees a push
//! made by another process, such as the API), so an idle worker picked a
//! webhook's job up only at its next poll tick. The poll stays as the
//! fallback for what pub/sub cannot announce: a lost message, a delayed
//! job coming due, a worker whose subscription is being re-made.

use apalis::prelude::Strategy;
use futures::{Stream, StreamExt};
use redis::aio::ConnectionManager;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a lost subscription waits before it is made again.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// The pub/sub channel a queue's pushes are announced on (`queue` is the
/// apalis queue name, with its deployment prefix).
pub fn channel(queue: &str) -> String {
    format!("{queue}:wake")
}

/// Tells the queue's workers a task was pushed. Best effort: a worker that
/// misses it finds the task at its next poll, so a failure is only logged.
pub async fn announce(conn: &mut ConnectionManager, queue: &str) {
    let published: redis::RedisResult<u64> = redis::cmd("PUBLISH")
        .arg(channel(queue))
        .arg("")
        .query_async(conn)
        .await;
    if let Err(e) = published {
        tracing::debug!(target: "payments", queue, error = %e, "could not announce a push");
    }
}

/// When a worker of `queue` fetches: as soon as a push is announced, and
/// every `poll_interval` whatever happens.
pub fn fetch_strategy(client: redis::Client, queue: &str, poll_interval: Duration) -> Strategy {
    Strategy::new()
        .stream(announcements(client, channel(queue)))
        .interval(poll_interval)
}

/// One item per announcement (several announced while the worker is busy
/// make one wake-up). The stream never ends: a worker whose strategy
/// stream ended would stop fetching on the poll timer as well.
fn announcements(
    client: redis::Client,
    channel: String,
) -> impl Stream<Item = ()> + Unpin + Send + Sync + 'static {
    let (tx, mut rx) = mpsc::channel(1);
    tokio::spawn(subscribe(client, channel, tx));
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).chain(futures::stream::pending())
}

/// Holds the subscription until the worker drops its end, re-making it
/// after a lost connection.
async fn subscribe(client: redis::Client, channel: String, tx: mpsc::Sender<()>) {
    loop {
        tokio::select! {
            () = tx.closed() => return,
            lost = forward(&client, &channel, &tx) => {
                tracing::debug!(target: "payments", channel, error = %lost,
                    "push announcements lost; polling until resubscribed");
            }
        }
        tokio::select! {
            () = tx.closed() => return,
            () = tokio::time::sleep(RESUBSCRIBE_AFTER) => {}
        }
    }
}

/// Forwards announcements until the connection fails.
async fn forward(
    client: &redis::Client,
    channel: &str,
    tx: &mpsc::Sender<()>,
) -> redis::RedisError {
    let mut pubsub = match client.get_async_pubsub().await {
        Ok(pubsub) => pubsub,
        Err(e) => return e,
    };
    if let Err(e) = pubsub.subscribe(channel).await {
        return e;
    }
    let mut messages = pubsub.into_on_message();
    while messages.next().await.is_some() {
        // Full: a wake-up is already waiting, which covers this push too.
        let _ = tx.try_send(());
    }
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "the subscription's connection closed",
    ))
}
