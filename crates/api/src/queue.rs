//! The job queue, connected lazily: the API starts and serves every
//! synchronous endpoint while Redis is down, and connects on first use.

use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use worker::queue::{JobQueue, QueueError};

/// After a failed connection, callers fail fast for this long instead of
/// each waiting for their own connection attempt.
const RETRY_AFTER: Duration = Duration::from_secs(1);

enum Slot {
    Empty,
    Failed { at: Instant, reason: String },
    Connected(Box<JobQueue>),
}

pub struct LazyQueue {
    redis_url: secrecy::SecretString,
    prefix: String,
    slot: Mutex<Slot>,
}

impl LazyQueue {
    pub fn new(redis_url: secrecy::SecretString, prefix: String) -> Self {
        Self {
            redis_url,
            prefix,
            slot: Mutex::new(Slot::Empty),
        }
    }

    /// The connected queue, connecting now if needed. Once connected, the
    /// connection manager reconnects by itself.
    pub async fn get(&self) -> Result<JobQueue, QueueError> {
        use secrecy::ExposeSecret;
        let mut slot = self.slot.lock().await;
        match &*slot {
            Slot::Connected(queue) => return Ok((**queue).clone()),
            Slot::Failed { at, reason } if at.elapsed() < RETRY_AFTER => {
                return Err(QueueError::Unavailable(reason.clone()));
            }
            Slot::Failed { .. } | Slot::Empty => {}
        }
        match JobQueue::connect(self.redis_url.expose_secret(), self.prefix.clone()).await {
            Ok(queue) => {
                *slot = Slot::Connected(Box::new(queue.clone()));
                Ok(queue)
            }
            Err(e) => {
                *slot = Slot::Failed {
                    at: Instant::now(),
                    reason: e.to_string(),
                };
                Err(e)
            }
        }
    }

    /// Redis answers a PING.
    pub async fn ping(&self) -> Result<(), QueueError> {
        self.get().await?.ping().await
    }
}
