//! Per-test isolation: a PostgreSQL database, a Redis key prefix and a
//! Stripe emulator of its own; workers run in the test process (or as the
//! real binary) against them.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::audit::{Actor, AuditSource};
use domain::jobs::{CleanExpiredSessions, PaymentJob, SweepTrigger};
use domain::models::payment::Payment;
use domain::models::stripe_event::StoredEvent;
use domain::models::task::{TaskRecord, TaskState};
use domain::schema::payments;
use domain::services::{CheckoutItem, CheckoutRequest, CheckoutSettings, checkout};
use domain::testing::{Fixtures, TestDatabase, check_invariants};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stripe_client::{StripeClient, StripeConfig};
use stripe_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use time::OffsetDateTime;
use worker::config::WorkerConfig;
use worker::testing::purge_redis;
use worker::{AppContext, JobQueue, WorkerHandle};

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .or_else(|_| std::env::var("REDIS_URL"))
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub struct TestEnv {
    pub db: TestDatabase,
    pub emulator: EmulatorHandle,
    pub redis_url: String,
    pub prefix: String,
    pub queue: JobQueue,
    pub ctx: Arc<AppContext>,
    pub fixtures: Fixtures,
    vars: HashMap<String, String>,
}

/// Fast settings for tests; `overrides` win.
fn test_vars(
    db: &TestDatabase,
    emulator: &EmulatorHandle,
    redis_url: &str,
    prefix: &str,
    overrides: &[(&str, &str)],
) -> HashMap<String, String> {
    let mut vars: HashMap<String, String> = [
        ("DATABASE_URL", db.url()),
        ("REDIS_URL", redis_url),
        ("QUEUE_PREFIX", prefix),
        ("STRIPE_API_BASE", emulator.base_url()),
        ("STRIPE_SECRET_KEY", "sk_test_worker"),
        ("BOARD_BIND", "127.0.0.1:0"),
        ("AUTO_CLEANUP", "false"),
        ("WORKER_HEARTBEAT_SECS", "1"),
        ("WORKER_MISSED_HEARTBEATS", "3"),
        ("JOB_MAX_ATTEMPTS", "3"),
        ("JOB_BACKOFF_BASE_MS", "100"),
        ("JOB_BACKOFF_MAX_SECS", "1"),
        ("CHAIN_DEADMAN_INTERVAL_SECS", "1"),
        ("CHAIN_OVERDUE_GRACE_SECS", "30"),
        ("WORKER_SHUTDOWN_TIMEOUT_SECS", "10"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in overrides {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    vars
}

/// A Stripe client with short timeouts and fast retries.
pub fn stripe_client(base_url: &str) -> StripeClient {
    let mut config = StripeConfig::new(base_url, SecretString::from("sk_test_worker"));
    config.timeout = Duration::from_secs(5);
    config.max_attempts = 3;
    config.base_backoff = Duration::from_millis(10);
    config.max_backoff = Duration::from_secs(2);
    StripeClient::new(&config).expect("valid Stripe config")
}

impl TestEnv {
    pub async fn new() -> Self {
        Self::with(&[]).await
    }

    pub async fn with(overrides: &[(&str, &str)]) -> Self {
        let db = TestDatabase::new().await;
        let emulator = Emulator::start(EmulatorConfig::for_tests())
            .await
            .expect("emulator starts");
        let redis_url = overrides
            .iter()
            .find(|(k, _)| *k == "REDIS_URL")
            .map_or_else(redis_url, |(_, v)| (*v).to_owned());
        let prefix = format!(
            "test-{}:",
            ulid::Ulid::generate().to_string().to_lowercase()
        );
        let vars = test_vars(&db, &emulator, &redis_url, &prefix, overrides);
        let fixtures = Fixtures::seed(&mut *db.conn().await, 1000).await;
        let queue = JobQueue::connect(&redis_url, prefix.clone())
            .await
            .expect("Redis reachable");
        let config = config_from(&vars);
        let ctx = AppContext::new(
            config,
            db.pool().clone(),
            Arc::new(stripe_client(emulator.base_url())),
            queue.clone(),
        );
        Self {
            db,
            emulator,
            redis_url,
            prefix,
            queue,
            ctx,
            fixtures,
            vars,
        }
    }

    pub fn config(&self) -> WorkerConfig {
        config_from(&self.vars)
    }

    /// The environment of a `payments-worker` process for this test.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        let mut vars: Vec<_> = self.vars.clone().into_iter().collect();
        vars.push(("BOARD_BIND".into(), "off".into()));
        vars.push(("RUST_LOG".into(), "info".into()));
        vars
    }

    /// A context like the test's, with a gateway of the caller's choosing.
    pub fn context_with(
        &self,
        config: WorkerConfig,
        gateway: Arc<dyn domain::gateway::StripeGateway>,
    ) -> Arc<AppContext> {
        AppContext::new(config, self.db.pool().clone(), gateway, self.queue.clone())
    }

    /// An in-process worker with its own Redis connection.
    pub async fn start_worker(&self) -> WorkerHandle {
        self.start_worker_with(self.config()).await
    }

    pub async fn start_worker_with(&self, config: WorkerConfig) -> WorkerHandle {
        let queue = JobQueue::connect(config.redis_url.expose_secret(), self.prefix.clone())
            .await
            .expect("Redis reachable");
        let ctx = AppContext::new(
            config,
            self.db.pool().clone(),
            Arc::new(stripe_client(self.emulator.base_url())),
            queue,
        );
        worker::start(ctx).await.expect("worker starts")
    }

    /// A checkout through the emulator: an open session, reserved stock.
    pub async fn checkout(&self) -> Payment {
        let mut conn = self.db.conn().await;
        let settings = CheckoutSettings {
            session_ttl: Duration::from_secs(1900),
            success_url: "http://shop.test/ok".into(),
            cancel_url: "http://shop.test/cart".into(),
        };
        let request = CheckoutRequest {
            user_id: self.fixtures.user,
            customer_email: Some("ana@example.com".into()),
            items: vec![CheckoutItem {
                product_id: self.fixtures.product,
                quantity: 2,
            }],
            coupon_code: None,
        };
        checkout(&mut conn, self.ctx.gateway.as_ref(), &settings, &request)
            .await
            .expect("checkout")
    }

    pub async fn payment(&self, payment: &Payment) -> Payment {
        Payment::find(&mut *self.db.conn().await, payment.id)
            .await
            .expect("query")
            .expect("payment exists")
    }

    /// Makes the payment's session look expired on our side (as if its
    /// `expires_at` had passed).
    pub async fn backdate_expiry(&self, payment: &Payment) {
        let past = OffsetDateTime::now_utc() - time::Duration::minutes(5);
        diesel::update(payments::table.find(payment.id))
            .set(payments::expires_at.eq(past))
            .execute(&mut *self.db.conn().await)
            .await
            .expect("backdate");
    }

    /// Stores the emulator's latest event of `type_` about `object_id`
    /// (as the API's webhook endpoint would) and returns its id.
    pub async fn store_event(&self, type_: &str, object_id: &str) -> String {
        let event = self
            .emulator
            .events()
            .into_iter()
            .rev()
            .find(|e| {
                e["type"] == type_
                    && (e["data"]["object"]["id"] == object_id
                        || e["data"]["object"]["payment_intent"] == object_id)
            })
            .unwrap_or_else(|| panic!("no {type_} event for {object_id}"));
        let id = event["id"].as_str().expect("event id").to_owned();
        StoredEvent::store(&mut *self.db.conn().await, &id, type_, &event)
            .await
            .expect("store event");
        id
    }

    pub async fn enqueue(&self, job: PaymentJob) -> String {
        self.queue
            .enqueue(&mut *self.db.conn().await, job, None, None)
            .await
            .expect("enqueued")
    }

    /// Stores the emulator's latest event of `type_` about `object_id` and
    /// enqueues its job, as the webhook endpoint does; returns the task id.
    pub async fn enqueue_event(&self, type_: &str, object_id: &str) -> String {
        let event = self.store_event(type_, object_id).await;
        self.enqueue(PaymentJob::for_event(type_, event)).await
    }

    pub async fn assert_invariants(&self) {
        check_invariants(&mut *self.db.conn().await)
            .await
            .assert_ok();
    }

    pub async fn task(&self, id: &str) -> Option<TaskRecord> {
        TaskRecord::find(&mut *self.db.conn().await, id)
            .await
            .expect("query")
    }

    /// Waits until the task record satisfies `done` (panics after `within`).
    pub async fn wait_task(
        &self,
        id: &str,
        within: Duration,
        done: impl Fn(&TaskRecord) -> bool,
    ) -> TaskRecord {
        let deadline = Instant::now() + within;
        loop {
            let record = self.task(id).await;
            if let Some(record) = &record
                && done(record)
            {
                return record.clone();
            }
            assert!(
                Instant::now() < deadline,
                "task {id} not done within {within:?}: {record:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Enqueues a one-off sweep (never part of the chain) and waits for it.
    pub async fn run_oneoff_sweep(&self, dry_run: bool) -> TaskRecord {
        let job = CleanExpiredSessions {
            trigger: SweepTrigger::Oneoff,
            dry_run,
            force: false,
            chain_token: None,
        };
        let id = self
            .queue
            .enqueue_sweep(&mut *self.db.conn().await, job, None, None)
            .await
            .expect("enqueued");
        self.wait_finished(&id, Duration::from_secs(30)).await
    }

    /// What a Redis restart without persistence does to this deployment:
    /// every key under its prefix gone.
    pub async fn lose_redis_data(&self) {
        let (url, prefix) = (self.redis_url.clone(), self.prefix.clone());
        tokio::task::spawn_blocking(move || purge_redis(&url, &prefix))
            .await
            .expect("flushed");
    }

    pub async fn wait_finished(&self, id: &str, within: Duration) -> TaskRecord {
        self.wait_task(id, within, |r| r.state().is_ready()).await
    }

    pub async fn redis(&self) -> redis::aio::ConnectionManager {
        self.queue.redis()
    }
}

pub fn config_from(vars: &HashMap<String, String>) -> WorkerConfig {
    let vars = vars.clone();
    WorkerConfig::from(&move |var: &str| vars.get(var).cloned()).expect("valid test config")
}

/// A staff member's cancellation of `payment`, as a job.
pub fn staff_cancellation(payment: &Payment) -> PaymentJob {
    PaymentJob::ManualPaymentCancellation {
        payment_id: payment.id,
        actor: Actor::new(AuditSource::Staff, "staff@example.com"),
    }
}

pub fn is_success(r: &TaskRecord) -> bool {
    r.state() == TaskState::Success
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let (url, prefix) = (self.redis_url.clone(), self.prefix.clone());
        let _ = std::thread::spawn(move || purge_redis(&url, &prefix)).join();
    }
}
