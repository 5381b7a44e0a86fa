//! Secrets never reach the logs, at any level (issue 8, item 4): a full
//! run — login (a wrong guess, then right, then again), checkout and
//! cancel with a cookie, checkout with a token, payment, the signed webhook
//! processed by the worker, a forged webhook, a bogus token, logout — with
//! the real `payments-api` binary at `RUST_LOG=trace`, once with text and
//! once with JSON logs, and a worker in this process whose TRACE output is
//! captured in both formats too. Then every secret is searched for, and
//! the API's JSON lines are checked to be flat objects.

use crate::helpers::{Captured, REDIS_URL, now};
use domain::auth::password::hash_password;
use domain::models::user::{User, insert_api_token};
use domain::testing::{TestDatabase, flat_json_lines, seed_product};
use domain::values::email::Email;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Method, RequestBuilder, Url};
use serde_json::{Value, json};
use std::process::Stdio;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use stripe_emulator::{Emulator, EmulatorConfig, PayOutcome};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Text and JSON layers at TRACE, as the worker's telemetry formats them.
static IN_PROCESS: LazyLock<(Captured, Captured)> = LazyLock::new(|| {
    let (text, json) = (Captured::default(), Captured::default());
    let (t, j) = (text.clone(), json.clone());
    tracing_subscriber::registry()
        // The test's own browser (reqwest's cookie jar, `cookie_store`)
        // logs the cookies it stores; it is the client, not the service.
        .with(tracing_subscriber::EnvFilter::new("trace,cookie_store=off"))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || t.clone()),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_writer(move || j.clone()),
        )
        .try_init()
        .expect("this test installs the process's tracing subscriber (unset TEST_LOG)");
    (text, json)
});

/// Every secret the run handles; none may be logged.
struct Secrets {
    stripe_key: String,
    webhook_secret: String,
    database_password: String,
    password: String,
    wrong_password: String,
    api_token: String,
    bogus_token: String,
    /// Session keys and CSRF tokens handed out during the run.
    issued: Vec<(&'static str, String)>,
}

impl Secrets {
    fn new() -> Self {
        let random = || uuid::Uuid::new_v4().simple().to_string();
        Self {
            stripe_key: format!("sk_test_{}", random()),
            webhook_secret: format!("whsec_{}", random()),
            database_password: format!("dbpw{}", random()),
            password: format!("pw-{}", random()),
            wrong_password: format!("guess-{}", random()),
            api_token: format!("tok{}", random()),
            bogus_token: format!("bogus{}", random()),
            issued: Vec::new(),
        }
    }

    fn all(&self) -> Vec<(&str, &str)> {
        let mut all = vec![
            ("Stripe secret key", self.stripe_key.as_str()),
            ("webhook secret", self.webhook_secret.as_str()),
            ("database password", self.database_password.as_str()),
            ("password", self.password.as_str()),
            ("wrong password", self.wrong_password.as_str()),
            ("API token", self.api_token.as_str()),
            ("bogus API token", self.bogus_token.as_str()),
        ];
        all.extend(self.issued.iter().map(|(what, v)| (*what, v.as_str())));
        all
    }
}

/// `postgres://user@host/db` → `postgres://user:password@host/db`; the
/// local server trusts loopback, so any password works.
fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("scheme");
    let (user, host) = rest.split_once('@').expect("user@host");
    let user = user.split(':').next().unwrap_or(user);
    format!("{scheme}://{user}:{password}@{host}")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("address")
        .port()
}

/// A browser talking to the API process.
struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
    base: Url,
}

impl Browser {
    fn new(base: &str) -> Self {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .build()
            .expect("client");
        Self {
            client,
            jar,
            base: Url::parse(base).expect("base"),
        }
    }

    fn cookie(&self, name: &str) -> Option<String> {
        let header = self.jar.cookies(&self.base)?;
        header.to_str().ok()?.split("; ").find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self
            .client
            .request(method, self.base.join(path).expect("url"));
        match self.cookie("csrftoken") {
            Some(token) => builder.header("X-CSRFToken", token),
            None => builder,
        }
    }
}

/// The API process; killed if the test fails before stopping it.
struct Stop(std::process::Child);

impl Stop {
    /// SIGTERM (the graceful path logs too), then wait for the exit.
    async fn terminate(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        for _ in 0..300 {
            if self.0.try_wait().ok().flatten().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn send(builder: RequestBuilder) -> (u16, Value) {
    let response = builder.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The full run against one API process logging in `format`; returns its
/// output (stdout and stderr).
async fn full_run(format: &str, secrets: &mut Secrets) -> String {
    let db = TestDatabase::new().await;
    let database_url = with_password(db.url(), &secrets.database_password);
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let emulator = Emulator::start(
        EmulatorConfig::for_tests().with_webhook_secret(secrets.webhook_secret.clone()),
    )
    .await
    .expect("emulator");
    let (user, product) = {
        let mut conn = db.conn().await;
        let hash = hash_password(&secrets.password).expect("hash");
        let email = Email::parse("ana@example.com").expect("email");
        let user = User::upsert(&mut conn, &email, &hash, true)
            .await
            .expect("user");
        insert_api_token(&mut conn, user.id, &secrets.api_token)
            .await
            .expect("token");
        (user, seed_product(&mut conn, "SKU-LOG", 1000, 10).await)
    };

    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    let log_path = std::env::temp_dir().join(format!("payments-api-{prefix}-{format}.log"));
    let log = std::fs::File::create(&log_path).expect("log file");
    let api = std::process::Command::new(env!("CARGO_BIN_EXE_payments-api"))
        .env_clear()
        .envs([
            ("APP_ENV", "production"),
            ("RUST_LOG", "trace"),
            ("LOG_FORMAT", format),
            ("API_BIND", &format!("127.0.0.1:{port}")),
            ("DATABASE_URL", &database_url),
            ("REDIS_URL", REDIS_URL),
            ("QUEUE_PREFIX", &prefix),
            ("STRIPE_API_BASE", emulator.base_url()),
            ("STRIPE_SECRET_KEY", &secrets.stripe_key),
            ("STRIPE_WEBHOOK_SECRET", &secrets.webhook_secret),
            // The test's client talks plain http.
            ("COOKIE_SECURE", "false"),
            ("ALLOWED_ORIGINS", "http://frontend.test"),
        ])
        .stdout(Stdio::from(log.try_clone().expect("log file")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("payments-api starts");
    let mut api = Stop(api);

    let vars: std::collections::HashMap<&str, String> = [
        ("DATABASE_URL", database_url.clone()),
        ("REDIS_URL", REDIS_URL.to_owned()),
        ("QUEUE_PREFIX", prefix.clone()),
        ("STRIPE_API_BASE", emulator.base_url().to_owned()),
        ("STRIPE_SECRET_KEY", secrets.stripe_key.clone()),
        ("BOARD_BIND", "off".to_owned()),
        ("AUTO_CLEANUP", "false".to_owned()),
    ]
    .into_iter()
    .collect();
    let config = worker::WorkerConfig::from(&move |var: &str| vars.get(var).cloned())
        .expect("worker config");
    let ctx = worker::build_context(config).await.expect("worker context");
    let worker = worker::start(ctx).await.expect("worker starts");

    let ready = async {
        loop {
            if reqwest::get(format!("{address}/healthz")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), ready)
        .await
        .expect("payments-api listens");
    emulator.add_webhook_url(format!("{address}/api/payments/webhook/"));

    // A browser: a wrong guess, a login, a second login (key rotated).
    let browser = Browser::new(&address);
    send(browser.request(Method::GET, "/api/auth/csrf/")).await;
    let login = |password: &str| {
        browser
            .request(Method::POST, "/api/auth/login/")
            .json(&json!({ "email": user.email, "password": password }))
    };
    assert_eq!(send(login(&secrets.wrong_password)).await.0, 401);
    assert_eq!(send(login(&secrets.password)).await.0, 200);
    secrets.issued.push((
        "first session key",
        browser.cookie("sessionid").expect("key"),
    ));
    secrets.issued.push((
        "first CSRF token",
        browser.cookie("csrftoken").expect("token"),
    ));
    assert_eq!(send(login(&secrets.password)).await.0, 200);
    secrets.issued.push((
        "second session key",
        browser.cookie("sessionid").expect("key"),
    ));
    secrets.issued.push((
        "second CSRF token",
        browser.cookie("csrftoken").expect("token"),
    ));
    assert_eq!(
        send(browser.request(Method::GET, "/api/auth/me/")).await.0,
        200
    );

    // Checkout and cancel with the cookie.
    let items = json!({ "items": [{ "product_id": product.0, "quantity": 1 }] });
    let (status, created) = send(
        browser
            .request(Method::POST, "/api/payments/checkout/")
            .json(&items),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let cancel = format!(
        "/api/payments/{}/cancel/",
        created["payment_id"].as_str().unwrap()
    );
    assert_eq!(send(browser.request(Method::POST, &cancel)).await.0, 200);

    // A script with a token pays; the emulator's signed webhook arrives and
    // the worker completes the payment.
    let script = reqwest::Client::new();
    let with_token = |method: Method, path: &str| {
        script
            .request(method, format!("{address}{path}"))
            .header("Authorization", format!("Token {}", secrets.api_token))
    };
    let (status, created) =
        send(with_token(Method::POST, "/api/payments/checkout/").json(&items)).await;
    assert_eq!(status, 201, "{created}");
    emulator
        .pay_session(created["session_id"].as_str().unwrap(), PayOutcome::Succeed)
        .expect("paid");
    let status_path = format!(
        "/api/payments/{}/status/",
        created["payment_id"].as_str().unwrap()
    );
    let completed = async {
        loop {
            let (_, body) = send(with_token(Method::GET, &status_path)).await;
            if body["payment_status"] == "COMPLETED" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), completed)
        .await
        .expect("the webhook was processed by the worker");
    assert_eq!(
        send(with_token(
            Method::POST,
            "/api/payments/check_expired_sessions/"
        ))
        .await
        .0,
        202
    );

    // Hostile callers: a forged webhook and a made-up token.
    let forged = json!({ "id": "evt_forged", "type": "checkout.session.completed" });
    let body = serde_json::to_vec(&forged).unwrap();
    let (status, _) = send(
        script
            .post(format!("{address}/api/payments/webhook/"))
            .header(
                "Stripe-Signature",
                stripe_client::webhook::sign(&body, "whsec_guess", now()),
            )
            .body(body),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = send(
        script
            .get(format!("{address}/api/auth/me/"))
            .header("Authorization", format!("Token {}", secrets.bogus_token)),
    )
    .await;
    assert_eq!(status, 401);

    assert_eq!(
        send(browser.request(Method::POST, "/api/auth/logout/"))
            .await
            .0,
        204
    );

    worker.shutdown().await;
    api.terminate().await;
    emulator.stop().await;
    let output = std::fs::read_to_string(&log_path).expect("api log");
    let _ = std::fs::remove_file(&log_path);
    output
}

/// The logs without ANSI colour codes (the text format colours levels and
/// field names even when not writing to a terminal), so that nothing can
/// hide a secret from the search.
fn strip_ansi(logs: &str) -> String {
    let mut out = String::with_capacity(logs.len());
    let mut chars = logs.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters… final byte in '@'..='~'.
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn assert_no_secret(what: &str, logs: &str, secrets: &Secrets) {
    for (name, secret) in secrets.all() {
        if let Some(at) = logs.find(secret) {
            let start = logs[..at].rfind('\n').map_or(0, |i| i + 1);
            let end = logs[at..].find('\n').map_or(logs.len(), |i| at + i);
            panic!("the {name} is in the {what}:\n{}", &logs[start..end]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_secret_appears_in_text_or_json_logs_at_trace_level() {
    let (in_text, in_json) = &*IN_PROCESS;
    let mut secrets = Secrets::new();
    let text = strip_ansi(&full_run("text", &mut secrets).await);
    let json = strip_ansi(&full_run("json", &mut secrets).await);

    // The logs are real: TRACE lines and the run's events are there.
    for (what, logs, trace, event) in [
        ("API text logs", &text, " TRACE ", "user logged in"),
        (
            "API JSON logs",
            &json,
            "\"level\":\"TRACE\"",
            "webhook stored and enqueued",
        ),
        (
            "worker text logs",
            &strip_ansi(&in_text.text()),
            " TRACE ",
            "stripe event processed",
        ),
        (
            "worker JSON logs",
            &in_json.text(),
            "\"level\":\"TRACE\"",
            "stripe event processed",
        ),
    ] {
        let start: String = logs.chars().take(3000).collect();
        assert!(logs.contains(trace), "{what} have TRACE lines:\n{start}");
        assert!(logs.contains(event), "{what} mention '{event}':\n{start}");
        assert!(
            logs.contains("webhook refused") || !what.starts_with("API"),
            "{what} log the forged webhook"
        );
        assert_no_secret(what, logs, &secrets);
    }
    // The binary's JSON is the flat shape the worker and `manage` write.
    let lines = flat_json_lines("API JSON logs", &json);
    assert!(
        lines.iter().any(|line| line["message"] == "request served"
            && line["target"] == "payments"
            && line["span"]["request_id"].is_string()),
        "an access line with its request's span"
    );
    // A refused request (the forged webhook's 400, a 401, a 404) is its
    // access line and, where it matters, one `payments` line: no second
    // WARN from the HTTP middleware, which `RUST_LOG=warn,payments=info`
    // would keep for every scanner's probe.
    let foreign: Vec<_> = lines
        .iter()
        .filter(|line| matches!(line["level"].as_str(), Some("WARN" | "ERROR")))
        .filter(|line| line["target"] != "payments")
        .collect();
    assert!(
        foreign.is_empty(),
        "WARN/ERROR lines outside `payments`: {foreign:?}"
    );
}
