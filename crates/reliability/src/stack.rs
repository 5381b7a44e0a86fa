//! The whole service in one process for the model-based tests: the real
//! API (actix on port 0), a real worker (apalis on its own Redis key
//! prefix) and the Stripe emulator delivering signed webhooks to the API,
//! over a PostgreSQL database of its own (`domain::testing::TestDatabase`).

use crate::client::ApiClient;
use crate::emulator::EmulatorControl;
use crate::world::World;
use api::config::{AppEnv, LogFilter, LogFormat, Settings, StripeSettings};
use api::startup::Application;
use domain::gateway::StripeGateway;
use domain::testing::TestDatabase;
use secrecy::SecretString;
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use stripe_client::{StripeClient, StripeConfig};
use stripe_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use worker::testing::purge_redis;
use worker::{JobQueue, WorkerConfig, WorkerHandle};

pub const WEBHOOK_SECRET: &str = "whsec_reliability";
const STRIPE_KEY: &str = "sk_test_reliability";

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .or_else(|_| std::env::var("REDIS_URL"))
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A Stripe client with short timeouts and quick retries.
pub fn stripe_client(base: &str) -> Arc<dyn StripeGateway> {
    Arc::new(client(base))
}

fn client(base: &str) -> StripeClient {
    let mut config = StripeConfig::new(base, SecretString::from(STRIPE_KEY));
    config.timeout = Duration::from_secs(5);
    config.max_attempts = 3;
    config.base_backoff = Duration::from_millis(10);
    config.max_backoff = Duration::from_millis(200);
    StripeClient::new(&config).expect("valid Stripe config")
}

pub struct Stack {
    pub db: TestDatabase,
    pub emulator: EmulatorHandle,
    pub control: EmulatorControl,
    pub api: ApiClient,
    /// The gateway the CLI path and the checks use.
    pub gateway: Arc<dyn StripeGateway>,
    pub world: World,
    pub redis_url: String,
    pub prefix: String,
    worker: Option<WorkerHandle>,
}

fn api_settings(db_url: &str, redis_url: &str, prefix: &str, stripe: &str) -> Settings {
    Settings {
        database_url: SecretString::from(db_url.to_owned()),
        database_pool_size: 10,
        workers: std::num::NonZeroUsize::new(2).expect("two"),
        redis_url: SecretString::from(redis_url.to_owned()),
        queue_prefix: prefix.to_owned(),
        stripe: StripeSettings {
            api_base: stripe.to_owned(),
            secret_key: SecretString::from(STRIPE_KEY.to_owned()),
            uses_emulator: true,
            webhook_secret: SecretString::from(WEBHOOK_SECRET.to_owned()),
        },
        api_bind: "127.0.0.1:0".parse().expect("bind address"),
        app_env: AppEnv::Production,
        cookie_secure: false,
        allowed_origins: vec![],
        frontend_url: "http://frontend.test".into(),
        checkout_session_ttl: Duration::from_secs(1800),
        session_ttl: Duration::from_secs(3600),
        login_rate_per_minute: 1000,
        trust_forwarded_for: false,
        json_body_limit: 64 * 1024,
        log_format: LogFormat::Text,
        log_filter: LogFilter::default(),
    }
}

/// A worker tuned for tests: quick polls and retries, no sweep chain
/// (sweeps are the model's operations), no board.
fn worker_config(db_url: &str, redis_url: &str, prefix: &str, stripe: &str) -> WorkerConfig {
    let vars: HashMap<&str, &str> = [
        ("DATABASE_URL", db_url),
        ("REDIS_URL", redis_url),
        ("QUEUE_PREFIX", prefix),
        ("STRIPE_API_BASE", stripe),
        ("STRIPE_SECRET_KEY", STRIPE_KEY),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("BOARD_BIND", "off"),
        ("AUTO_CLEANUP", "false"),
        ("WORKER_POLL_INTERVAL_MS", "50"),
        ("WORKER_HEARTBEAT_SECS", "1"),
        ("WORKER_MISSED_HEARTBEATS", "3"),
        ("WORKER_CONCURRENCY", "4"),
        ("JOB_MAX_ATTEMPTS", "5"),
        ("JOB_BACKOFF_BASE_MS", "100"),
        ("JOB_BACKOFF_MAX_SECS", "1"),
        ("WORKER_SHUTDOWN_TIMEOUT_SECS", "5"),
        ("WORKER_DB_POOL_SIZE", "8"),
    ]
    .into_iter()
    .collect();
    WorkerConfig::from(&move |var: &str| vars.get(var).map(|v| (*v).to_owned()))
        .expect("valid worker test config")
}

impl Stack {
    /// Starts everything; `units` of stock and `coupon_uses` redemptions.
    pub async fn start(customers: usize, units: i32, coupon_uses: i32) -> anyhow::Result<Self> {
        let db = TestDatabase::new().await;
        let world = World::seed(&mut *db.conn().await, customers, units, coupon_uses).await;
        let emulator =
            Emulator::start(EmulatorConfig::for_tests().with_webhook_secret(WEBHOOK_SECRET))
                .await?;
        let stripe = emulator.base_url().to_owned();
        let redis_url = redis_url();
        let prefix = format!("reliability:{}:", uuid::Uuid::new_v4().simple());
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let settings = api_settings(db.url(), &redis_url, &prefix, &stripe);
        let app = Application::from_parts(settings, &client(&stripe), listener)?;
        let api_base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        emulator.add_webhook_url(format!("{api_base}/api/payments/webhook/"));
        let config = worker_config(db.url(), &redis_url, &prefix, &stripe);
        let queue = JobQueue::connect(&redis_url, prefix.clone()).await?;
        let ctx = worker::AppContext::new(config, db.pool().clone(), stripe_client(&stripe), queue);
        let worker = worker::start(ctx).await?;
        Ok(Self {
            control: EmulatorControl::new(&stripe),
            api: ApiClient::new(api_base, Duration::from_secs(20)),
            gateway: stripe_client(&stripe),
            db,
            emulator,
            world,
            redis_url,
            prefix,
            worker: Some(worker),
        })
    }

    /// Stops the worker gracefully (the rest stops with the runtime).
    pub async fn stop(mut self) {
        if let Some(worker) = self.worker.take() {
            worker.shutdown().await;
        }
    }
}

impl Drop for Stack {
    /// Forgets this stack's Redis keys (nothing else uses the prefix).
    fn drop(&mut self) {
        let (url, prefix) = (self.redis_url.clone(), self.prefix.clone());
        let _ = std::thread::spawn(move || purge_redis(&url, &prefix)).join();
    }
}
