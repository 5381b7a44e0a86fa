//! Test helpers: an emulator on a free port, a plain HTTP client speaking
//! Stripe's form encoding, and a webhook receiver that can fail on purpose.

#![allow(dead_code)] // each test binary uses a different part

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stripe_emulator::{Emulator, EmulatorConfig, EmulatorHandle};

pub const KEY: &str = "sk_test_emulator_tests";
pub const SECRET: &str = "whsec_emulator_tests";

pub async fn start(config: EmulatorConfig) -> EmulatorHandle {
    Emulator::start(config.with_webhook_secret(SECRET))
        .await
        .expect("emulator starts")
}

pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Api {
    pub fn new(emulator: &EmulatorHandle) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base: emulator.base_url().to_owned(),
            http,
        }
    }

    async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Reply {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }

    /// POST a form body (already encoded) with the test key.
    pub async fn post(&self, path: &str, form: &str, idempotency_key: Option<&str>) -> Reply {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(KEY)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned());
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        Self::reply(request.send().await.unwrap()).await
    }

    pub async fn get(&self, path_and_query: &str) -> Reply {
        let response = self
            .http
            .get(format!("{}{path_and_query}", self.base))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        Self::reply(response).await
    }

    /// A control endpoint (JSON, no auth).
    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}/_emulator{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::reply(request.send().await.unwrap()).await
    }

    /// A valid session expiring in an hour of the emulator's clock.
    pub async fn create_session(&self, emulator: &EmulatorHandle) -> Value {
        let reply = self
            .post(
                "/v1/checkout/sessions",
                &session_form(emulator.now() + 3600),
                None,
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }

    /// A new open session's id.
    pub async fn create_session_id(&self, emulator: &EmulatorHandle) -> String {
        let session = self.create_session(emulator).await;
        session["id"].as_str().expect("a session id").to_owned()
    }
}

pub fn session_form(expires_at: i64) -> String {
    format!(
        "mode=payment&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=1250\
         &line_items[0][price_data][product_data][name]=T-shirt&line_items[0][quantity]=2\
         &success_url=http%3A%2F%2Fshop.test%2Fpaid%3Fs%3D%7BCHECKOUT_SESSION_ID%7D\
         &cancel_url=http%3A%2F%2Fshop.test%2Fcart&metadata[payment_id]=pay_1\
         &payment_intent_data[metadata][payment_id]=pay_1&expires_at={expires_at}"
    )
}

#[derive(Debug, Clone)]
pub struct Received {
    pub signature: String,
    pub body: String,
}

impl Received {
    pub fn event(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A webhook endpoint answering 500 to its first `fail_first` requests.
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    handle: ServerHandle,
}

struct ReceiverState {
    received: Arc<Mutex<Vec<Received>>>,
    fail_first: usize,
    seen: AtomicUsize,
}

async fn receive(
    state: web::Data<ReceiverState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let signature = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    state.received.lock().unwrap().push(Received {
        signature,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    if state.seen.fetch_add(1, Ordering::SeqCst) < state.fail_first {
        HttpResponse::InternalServerError().json(json!({"error": "try again"}))
    } else {
        HttpResponse::Ok().json(json!({"received": true}))
    }
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let state = web::Data::new(ReceiverState {
            received: received.clone(),
            fail_first,
            seen: AtomicUsize::new(0),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route("/hook", web::post().to(receive))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://{addr}/hook"),
            received,
            handle,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn event_ids(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|r| r.event()["id"].as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// Polls `check` every 10 ms until it holds or `within` passes.
pub async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
