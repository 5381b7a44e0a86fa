//! Enqueueing jobs into Redis through apalis-redis, with a task record in
//! PostgreSQL first so `task_status` can answer for every id it handed out.
//!
//! apalis's push returns no id, so the id is made here (a ULID) and given
//! to the task; see `shared/notes/apalis-1.0.md` §1.

use crate::wakeup;
use apalis::prelude::{TaskBuilder, TaskId, TaskSink};
use apalis_redis::{Config, RedisStorage};
use diesel_async::AsyncPgConnection;
use domain::jobs::{CleanExpiredSessions, PAYMENTS_QUEUE, PaymentJob, SWEEP_QUEUE};
use domain::models::task::{TaskRecord, TaskState};
use domain::{PaymentId, UserId};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("Redis is unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
}

/// The two queues, sharing one Redis connection manager. Cheap to clone.
#[derive(Clone)]
pub struct JobQueue {
    payments: RedisStorage<PaymentJob>,
    sweep: RedisStorage<CleanExpiredSessions>,
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
}

/// A Redis connection that reconnects by itself and never waits long: the
/// default 500 ms response timeout is fatal to apalis workers under load,
/// and an unbounded one would hang requests while Redis is down.
async fn connect_redis(client: &redis::Client) -> Result<ConnectionManager, QueueError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(2);
    client
        .get_connection_manager_with_config(config)
        .await
        .map_err(|e| QueueError::Unavailable(e.to_string()))
}

/// A queue's name in Redis: `prefix` isolates deployments sharing one.
fn queue_name(prefix: &str, queue: &str) -> String {
    format!("{prefix}{queue}")
}

/// The apalis configuration of a queue. `prefix` isolates deployments (and
/// tests) sharing one Redis; orphaned jobs of a dead worker are taken back
/// after 5 s × 4 missed heartbeats instead of apalis's default 300 s.
pub fn queue_config(prefix: &str, queue: &str) -> Config {
    Config::default()
        .queue(queue_name(prefix, queue))
        .heartbeat_interval(Duration::from_secs(5))
        .missed_heartbeats(4)
}

impl JobQueue {
    pub async fn connect(redis_url: &str, prefix: impl Into<String>) -> Result<Self, QueueError> {
        let client =
            redis::Client::open(redis_url).map_err(|e| QueueError::Unavailable(e.to_string()))?;
        let conn = connect_redis(&client).await?;
        let prefix = prefix.into();
        Ok(Self {
            payments: RedisStorage::new(conn.clone())
                .with_config(queue_config(&prefix, PAYMENTS_QUEUE)),
            sweep: RedisStorage::new(conn.clone()).with_config(queue_config(&prefix, SWEEP_QUEUE)),
            client,
            conn,
            prefix,
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn payments_storage(&self) -> RedisStorage<PaymentJob> {
        self.payments.clone()
    }

    pub fn sweep_storage(&self) -> RedisStorage<CleanExpiredSessions> {
        self.sweep.clone()
    }

    pub fn redis(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// When a worker of `queue` fetches: at once when a task is pushed to
    /// it, and on the poll timer (see [`wakeup`]).
    pub fn fetch_strategy(
        &self,
        queue: &str,
        poll_interval: Duration,
    ) -> apalis::prelude::Strategy {
        wakeup::fetch_strategy(
            self.client.clone(),
            &queue_name(&self.prefix, queue),
            poll_interval,
        )
    }

    async fn pushed(&self, queue: &str) {
        wakeup::announce(&mut self.conn.clone(), &queue_name(&self.prefix, queue)).await;
    }

    /// Redis answers a PING.
    pub async fn ping(&self) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| QueueError::Unavailable(e.to_string()))
    }

    /// Records the task as PENDING, then pushes it. If Redis refuses, the
    /// record is closed as FAILURE and the caller gets `Unavailable`.
    pub async fn enqueue(
        &self,
        db: &mut AsyncPgConnection,
        job: PaymentJob,
        requested_by: Option<UserId>,
        payment_id: Option<PaymentId>,
    ) -> Result<String, QueueError> {
        let id = new_task_id();
        TaskRecord::create(db, &id, job.name(), requested_by, payment_id).await?;
        let task = TaskBuilder::new(job)
            .task_id(TaskId::from_string(id.clone()))
            .build();
        let pushed = self.payments.clone().push_task(task).await;
        let id = settle_push(db, &id, pushed.map_err(|e| e.to_string())).await?;
        self.pushed(PAYMENTS_QUEUE).await;
        Ok(id)
    }

    /// Enqueues a sweep run, to start after `delay` (if any).
    pub async fn enqueue_sweep(
        &self,
        db: &mut AsyncPgConnection,
        job: CleanExpiredSessions,
        requested_by: Option<UserId>,
        delay: Option<Duration>,
    ) -> Result<String, QueueError> {
        let id = new_task_id();
        TaskRecord::create(db, &id, CleanExpiredSessions::NAME, requested_by, None).await?;
        let mut builder = TaskBuilder::new(job).task_id(TaskId::from_string(id.clone()));
        if let Some(delay) = delay {
            builder = builder.run_after(delay);
        }
        let pushed = self.sweep.clone().push_task(builder.build()).await;
        let id = settle_push(db, &id, pushed.map_err(|e| e.to_string())).await?;
        if delay.is_none() {
            self.pushed(SWEEP_QUEUE).await;
        }
        Ok(id)
    }
}

fn new_task_id() -> String {
    ulid::Ulid::generate().to_string()
}

async fn settle_push(
    db: &mut AsyncPgConnection,
    id: &str,
    pushed: Result<(), String>,
) -> Result<String, QueueError> {
    match pushed {
        Ok(()) => Ok(id.to_owned()),
        Err(e) => {
            let error = format!("could not enqueue: {e}");
            TaskRecord::transition(db, id, TaskState::Failure, 0, None, Some(&error)).await?;
            Err(QueueError::Unavailable(e))
        }
    }
}
