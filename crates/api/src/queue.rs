//! The job queue, connected lazily: the API starts and serves every
//! synchronous endpoint while Redis is down, and connects on first use.

use tokio::sync::Mutex;
use worker::queue::{JobQueue, QueueError};

pub struct LazyQueue {
    redis_url: secrecy::SecretString,
    prefix: String,
    queue: Mutex<Option<JobQueue>>,
}

impl LazyQueue {
    pub fn new(redis_url: secrecy::SecretString, prefix: String) -> Self {
        Self {
            redis_url,
            prefix,
            queue: Mutex::new(None),
        }
    }

    /// The connected queue, connecting now if needed. Once connected, the
    /// connection manager reconnects by itself.
    pub async fn get(&self) -> Result<JobQueue, QueueError> {
        use secrecy::ExposeSecret;
        let mut slot = self.queue.lock().await;
        if let Some(queue) = slot.as_ref() {
            return Ok(queue.clone());
        }
        let queue = JobQueue::connect(self.redis_url.expose_secret(), self.prefix.clone()).await?;
        *slot = Some(queue.clone());
        Ok(queue)
    }

    /// Redis answers a PING.
    pub async fn ping(&self) -> Result<(), QueueError> {
        self.get().await?.ping().await
    }
}
