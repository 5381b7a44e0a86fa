//! `TestApp`: the real app on port 0 against its own PostgreSQL database,
//! its own Redis queue prefix and an in-process Stripe emulator.

use api::config::{AppEnv, LogFilter, LogFormat, Settings, StripeSettings};
use api::startup::Application;
use domain::auth::password::hash_password;
use domain::gateway::StripeGateway;
use domain::models::user::{User, insert_api_token};
use domain::testing::{TestDatabase, seed_product};
use domain::values::email::Email;
use domain::{ProductId, UserId};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Method, RequestBuilder, Response, Url};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::net::TcpListener;
use std::num::NonZeroUsize;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use stripe_client::{StripeClient, StripeConfig};
use stripe_emulator::{Emulator, EmulatorConfig, EmulatorHandle};

pub const WEBHOOK_SECRET: &str = "whsec_api_tests";
pub const PASSWORD: &str = "correct horse battery staple";
pub const REDIS_URL: &str = "redis://127.0.0.1:6379/0";
/// Nothing listens here: Redis is "down".
pub const DEAD_REDIS_URL: &str = "redis://127.0.0.1:1/0";

/// Argon2 is slow in debug builds: hash the shared test password once.
static PASSWORD_HASH: LazyLock<String> = LazyLock::new(|| hash_password(PASSWORD).expect("hash"));

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var("TEST_LOG").is_ok() {
        let filter = std::env::var("RUST_LOG")
            .ok()
            .and_then(|f| f.parse().ok())
            .unwrap_or_default();
        api::telemetry::init(LogFormat::Text, &filter);
    }
});

/// Log output written in this process, for tests that read the logs.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How a test wants the app configured.
#[derive(Clone)]
pub struct Options {
    pub app_env: AppEnv,
    pub redis_url: String,
    pub login_per_minute: u64,
    pub json_body_limit: usize,
    /// Stripe unreachable (a closed port) instead of the emulator.
    pub stripe_down: bool,
    /// `COOKIE_SECURE`: cookies carry the `Secure` flag.
    pub cookie_secure: bool,
    /// `DATABASE_POOL_SIZE`, shared out among the two server threads.
    pub pool_size: u32,
    /// `TRUST_FORWARDED_FOR`: behind a proxy the API trusts.
    pub trust_forwarded_for: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            app_env: AppEnv::Production,
            redis_url: REDIS_URL.into(),
            login_per_minute: 1000,
            json_body_limit: 16 * 1024,
            stripe_down: false,
            cookie_secure: false,
            pool_size: 20,
            trust_forwarded_for: false,
        }
    }
}

pub struct TestUser {
    pub id: UserId,
    pub email: String,
}

pub struct TestApp {
    pub address: String,
    pub db: TestDatabase,
    pub stripe: EmulatorHandle,
    pub queue_prefix: String,
    pub product: ProductId,
}

fn settings(options: &Options, db_url: &str, stripe_base: &str, prefix: &str) -> Settings {
    Settings {
        database_url: SecretString::from(db_url.to_owned()),
        database_pool_size: options.pool_size,
        workers: NonZeroUsize::new(2).expect("two"),
        redis_url: SecretString::from(options.redis_url.clone()),
        queue_prefix: prefix.to_owned(),
        stripe: StripeSettings {
            api_base: stripe_base.to_owned(),
            secret_key: SecretString::from("sk_test_api_tests".to_owned()),
            uses_emulator: true,
            webhook_secret: SecretString::from(WEBHOOK_SECRET.to_owned()),
        },
        api_bind: "127.0.0.1:0".parse().expect("bind address"),
        app_env: options.app_env,
        cookie_secure: options.cookie_secure,
        allowed_origins: vec!["http://frontend.test".into()],
        frontend_url: "http://frontend.test".into(),
        checkout_session_ttl: Duration::from_secs(1800),
        session_ttl: Duration::from_secs(3600),
        login_rate_per_minute: options.login_per_minute,
        trust_forwarded_for: options.trust_forwarded_for,
        json_body_limit: options.json_body_limit,
        log_format: LogFormat::Text,
        log_filter: LogFilter::default(),
    }
}

/// The API's own Stripe client (interactive deadline) with short
/// backoffs, so "Stripe down" tests are fast.
pub fn gateway(base: &str) -> Arc<dyn StripeGateway> {
    Arc::new(stripe_client(base))
}

fn stripe_client(base: &str) -> StripeClient {
    let mut config =
        StripeConfig::interactive(base, SecretString::from("sk_test_api_tests".to_owned()));
    config.max_attempts = 2;
    config.base_backoff = Duration::from_millis(10);
    config.max_backoff = Duration::from_millis(50);
    StripeClient::new(&config).expect("stripe client")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    LazyLock::force(&TRACING);
    let db = TestDatabase::new().await;
    let stripe = Emulator::start(EmulatorConfig::for_tests().with_webhook_secret(WEBHOOK_SECRET))
        .await
        .expect("emulator");
    let stripe_base = if options.stripe_down {
        "http://127.0.0.1:1".to_owned()
    } else {
        stripe.base_url().to_owned()
    };
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let settings = settings(&options, db.url(), &stripe_base, &prefix);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let app = Application::from_parts(settings, &stripe_client(&stripe_base), listener)
        .expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let product = {
        let mut conn = db.conn().await;
        seed_product(&mut conn, "SKU-1", 1000, 10).await
    };
    TestApp {
        address,
        db,
        stripe,
        queue_prefix: prefix,
        product,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Forget this test's queues (nothing else uses the prefix).
        let Ok(client) = redis::Client::open(REDIS_URL) else {
            return;
        };
        if let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(300)) {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}*", self.queue_prefix))
                .query(&mut conn)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut conn);
            }
        }
    }
}

/// Someone calling the API: anonymous, a browser session, or a token.
#[derive(Clone)]
pub struct Caller {
    client: reqwest::Client,
    jar: Arc<Jar>,
    base: Url,
    token: Option<String>,
    send_csrf: bool,
    lang: Option<&'static str>,
}

impl Caller {
    pub fn csrf_cookie(&self) -> Option<String> {
        self.cookie("csrftoken")
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        let header = self.jar.cookies(&self.base)?;
        header.to_str().ok()?.split("; ").find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    }

    /// The same caller, forgetting to send `X-CSRFToken`.
    pub fn without_csrf(&self) -> Caller {
        Caller {
            send_csrf: false,
            ..self.clone()
        }
    }

    pub fn english(&self) -> Caller {
        Caller {
            lang: Some("en"),
            ..self.clone()
        }
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let url = self.base.join(path).expect("url");
        let mut builder = self.client.request(method, url);
        if let Some(token) = &self.token {
            builder = builder.header("Authorization", format!("Token {token}"));
        }
        if self.send_csrf
            && let Some(csrf) = self.csrf_cookie()
        {
            builder = builder.header("X-CSRFToken", csrf);
        }
        if let Some(lang) = self.lang {
            builder = builder.header("Accept-Language", lang);
        }
        builder
    }
}

impl TestApp {
    /// Stripe answers 503 to every expiry of `session_id` (reads still
    /// work), so the session stays payable after a local cancellation.
    pub fn refuse_expiry(&self, session_id: &str) {
        self.stripe.inject_fault(stripe_emulator::Fault {
            count: 20,
            status: Some(503),
            retry_after: None,
            delay_ms: 0,
            path_prefix: Some(format!("/v1/checkout/sessions/{session_id}/expire")),
            method: None,
        });
    }

    pub fn anonymous(&self) -> Caller {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Caller {
            client,
            jar,
            base: Url::parse(&self.address).expect("address"),
            token: None,
            send_csrf: true,
            lang: None,
        }
    }

    pub async fn create_user(&self, email: &str, staff: bool) -> TestUser {
        let hash = PASSWORD_HASH.as_str();
        let mut conn = self.db.conn().await;
        let email = Email::parse(email).expect("email");
        let user = User::upsert(&mut conn, &email, hash, staff)
            .await
            .expect("user");
        TestUser {
            id: user.id,
            email: user.email,
        }
    }

    /// A browser that fetched a CSRF token and logged in.
    pub async fn browser(&self, user: &TestUser) -> Caller {
        let caller = self.anonymous();
        self.get_csrf(&caller).await;
        let response = self.login(&caller, &user.email, PASSWORD).await;
        assert_eq!(response.status(), 200, "login of {}", user.email);
        caller
    }

    /// A script with an API token.
    pub async fn script(&self, user: &TestUser) -> Caller {
        let key = format!("tok_{}", uuid::Uuid::new_v4().simple());
        let mut conn = self.db.conn().await;
        insert_api_token(&mut conn, user.id, &key)
            .await
            .expect("token");
        Caller {
            token: Some(key),
            ..self.anonymous()
        }
    }

    pub async fn get_csrf(&self, caller: &Caller) -> Response {
        self.get(caller, "/api/auth/csrf/").await
    }

    pub async fn login(&self, caller: &Caller, email: &str, password: &str) -> Response {
        self.post_json(
            caller,
            "/api/auth/login/",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    /// `GET /api/auth/me/` from a fresh client holding only
    /// `sessionid={key}`: what a stolen or planted key is worth.
    pub async fn me_with_session_key(&self, key: &str) -> Response {
        reqwest::Client::new()
            .get(format!("{}/api/auth/me/", self.address))
            .header("Cookie", format!("sessionid={key}"))
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, caller: &Caller, path: &str) -> Response {
        caller
            .request(Method::GET, path)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_json(&self, caller: &Caller, path: &str, body: &Value) -> Response {
        caller
            .request(Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_empty(&self, caller: &Caller, path: &str) -> Response {
        caller
            .request(Method::POST, path)
            .send()
            .await
            .expect("request")
    }

    pub async fn checkout(&self, caller: &Caller, quantity: i64) -> Response {
        let body = json!({ "items": [{ "product_id": self.product.0, "quantity": quantity }] });
        self.post_json(caller, "/api/payments/checkout/", &body)
            .await
    }

    /// A checkout that must succeed; returns its 201 body.
    pub async fn paid_for_checkout(&self, caller: &Caller, quantity: i64) -> Value {
        let response = self.checkout(caller, quantity).await;
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, 201, "checkout failed: {body}");
        body
    }

    pub async fn cancel(&self, caller: &Caller, payment_id: &str) -> Response {
        self.post_empty(caller, &format!("/api/payments/{payment_id}/cancel/"))
            .await
    }

    pub async fn status(&self, caller: &Caller, payment_id: &str) -> Response {
        self.get(caller, &format!("/api/payments/{payment_id}/status/"))
            .await
    }

    pub async fn sync_status(&self, caller: &Caller, payment_id: &str) -> Response {
        self.post_empty(caller, &format!("/api/payments/{payment_id}/sync_status/"))
            .await
    }

    pub async fn task_status(&self, caller: &Caller, task_id: &str) -> Response {
        self.get(
            caller,
            &format!("/api/payments/task_status/?task_id={task_id}"),
        )
        .await
    }

    pub async fn check_expired_sessions(&self, caller: &Caller) -> Response {
        self.post_empty(caller, "/api/payments/check_expired_sessions/")
            .await
    }

    /// Posts `payload` to the webhook signed at `timestamp` with `secret`.
    pub async fn webhook(&self, payload: &Value, secret: &str, timestamp: i64) -> Response {
        let body = serde_json::to_vec(payload).expect("payload");
        let signature = stripe_client::webhook::sign(&body, secret, timestamp);
        self.anonymous()
            .without_csrf()
            .request(Method::POST, "/api/payments/webhook/")
            .header("Content-Type", "application/json")
            .header("Stripe-Signature", signature)
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// Units of the test product reserved or sold.
    pub async fn units_sold(&self) -> i32 {
        let mut conn = self.db.conn().await;
        domain::models::product::Stock::find(&mut conn, self.product)
            .await
            .expect("stock")
            .expect("row")
            .units_sold
    }

    /// The test product's stock becomes `units` units.
    pub async fn give_stock(&self, units: i32) {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use domain::schema::inventory_stock;
        diesel::update(inventory_stock::table.find(self.product))
            .set(inventory_stock::units.eq(units))
            .execute(&mut *self.db.conn().await)
            .await
            .expect("stock set");
    }
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A `checkout.session.*` event for `session_id`, as Stripe would send it.
pub fn session_event(event_id: &str, event_type: &str, session: &Value) -> Value {
    json!({
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": now(),
        "api_version": stripe_emulator::API_VERSION,
        "livemode": false,
        "pending_webhooks": 1,
        "data": { "object": session },
    })
}
