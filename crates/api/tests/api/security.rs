//! Security checks (issue 8, item 4): cookie flags, session fixation, CSRF
//! on every unsafe route, per-payment isolation, staff-only routes, the
//! login rate limit and webhook replays.
//!
//! The routes are enumerated from the OpenAPI document (`/api/schema/`),
//! and the document is checked against the routing table
//! (`src/routes/mod.rs`), so a new route is covered without editing this file.

use crate::helpers::{
    Caller, Options, PASSWORD, TestApp, WEBHOOK_SECRET, gateway, now, session_event, spawn_app,
    spawn_app_with,
};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::schema::{stripe_events, task_records};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;

const CSRF_FAILED: &str = "Falló la verificación CSRF";
const PERMISSION_DENIED: &str = "Usted no tiene permiso para realizar esta acción.";

/// Served, but deliberately not in the OpenAPI document.
const UNDOCUMENTED_ROUTES: [(&str, &str); 1] = [
    // Prometheus text exposition for the scraper, not a JSON API operation.
    ("GET", "/metrics"),
];

/// One operation of the OpenAPI document.
#[derive(Debug, Clone)]
pub struct Operation {
    pub method: Method,
    /// The path template, e.g. `/api/payments/{id}/cancel/`.
    pub path: String,
    pub spec: Value,
}

impl Operation {
    pub fn is_unsafe(&self) -> bool {
        !matches!(self.method, Method::GET | Method::HEAD | Method::OPTIONS)
    }

    fn is_per_payment(&self) -> bool {
        self.path.starts_with("/api/payments/{id}/")
    }

    /// Documented as refused to non-staff users ("Not staff…" 403).
    fn is_staff_only(&self) -> bool {
        self.spec["responses"]["403"]["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Not staff"))
    }

    /// The concrete path for payment `id`.
    pub fn url(&self, id: &str) -> String {
        self.path.replace("{id}", id)
    }

    pub fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// A request as `caller`; unsafe ones carry an empty JSON object, the
    /// smallest body every JSON endpoint reads.
    fn request(&self, caller: &Caller, id: &str) -> reqwest::RequestBuilder {
        let builder = caller.request(self.method.clone(), &self.url(id));
        if self.is_unsafe() {
            builder.json(&json!({}))
        } else {
            builder
        }
    }
}

pub async fn operations(app: &TestApp) -> Vec<Operation> {
    let schema: Value = app
        .get(&app.anonymous(), "/api/schema/")
        .await
        .json()
        .await
        .expect("schema");
    let mut found = Vec::new();
    for (path, item) in schema["paths"].as_object().expect("paths") {
        for (method, spec) in item.as_object().expect("path item") {
            // A path item also holds `parameters`, `summary`…
            const METHODS: [&str; 8] = [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ];
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let method: Method = method.to_ascii_uppercase().parse().expect("method");
            found.push(Operation {
                method,
                path: path.clone(),
                spec: spec.clone(),
            });
        }
    }
    assert!(found.len() >= 20, "the schema lists the API: {found:?}");
    found
}

/// `(METHOD, path)` of every route registered in `routes::configure`, read
/// from its source: `resource("/path")` / `.route("/path", get()...)`
/// followed by the methods routed there.
fn routing_table() -> BTreeSet<(String, String)> {
    const SOURCE: &str = include_str!("../../src/routes/mod.rs");
    const METHODS: [(&str, &str); 5] = [
        ("get()", "GET"),
        ("post()", "POST"),
        ("put()", "PUT"),
        ("patch()", "PATCH"),
        ("delete()", "DELETE"),
    ];
    let mut routes = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut rest = SOURCE;
    while !rest.is_empty() {
        if let Some(after) = rest
            .strip_prefix("resource(\"")
            .or_else(|| rest.strip_prefix("route(\""))
        {
            let end = after.find('"').expect("closing quote");
            current = Some(after[..end].to_owned());
            rest = &after[end..];
            continue;
        }
        if let Some((token, method)) = METHODS.iter().find(|(t, _)| rest.starts_with(t)) {
            let path = current.clone().expect("a method after a path");
            routes.insert(((*method).to_owned(), path));
            rest = &rest[token.len()..];
            continue;
        }
        let mut chars = rest.chars();
        chars.next();
        rest = chars.as_str();
    }
    routes
}

#[tokio::test]
async fn every_served_route_is_in_the_openapi_document() {
    let app = spawn_app().await;
    let documented: BTreeSet<(String, String)> = operations(&app)
        .await
        .into_iter()
        .map(|op| (op.method.to_string(), op.path))
        .collect();
    let served = routing_table();
    assert!(served.len() >= 20, "the routing table was read: {served:?}");
    let exempt: BTreeSet<(String, String)> = UNDOCUMENTED_ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let missing: Vec<_> = served
        .difference(&documented)
        .filter(|route| !exempt.contains(*route))
        .collect();
    assert!(
        missing.is_empty(),
        "served but not documented (so not covered by these checks): {missing:?}"
    );
    let phantom: Vec<_> = documented.difference(&served).collect();
    assert!(phantom.is_empty(), "documented but not served: {phantom:?}");
}

fn set_cookie<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii cookie"))
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie set"))
}

fn attributes(cookie: &str) -> BTreeSet<String> {
    cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test]
async fn with_cookie_secure_every_cookie_is_secure_http_only_where_it_must_and_site_wide() {
    let app = spawn_app_with(Options {
        cookie_secure: true,
        ..Options::default()
    })
    .await;
    let user = app.create_user("ana@example.com", false).await;
    // A `Secure` cookie is not sent back over http, so the test sets the
    // headers itself.
    let client = reqwest::Client::new();
    let csrf = client
        .get(format!("{}/api/auth/csrf/", app.address))
        .send()
        .await
        .unwrap();
    let csrf_cookie = set_cookie(&csrf, "csrftoken").to_owned();
    let token = csrf_cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("csrftoken=")
        .to_owned();
    let csrf_attrs = attributes(&csrf_cookie);
    for wanted in ["secure", "samesite=lax", "path=/"] {
        assert!(
            csrf_attrs.contains(wanted),
            "csrftoken {wanted}: {csrf_cookie}"
        );
    }
    // Django's CSRF cookie is read by the frontend's JavaScript.
    assert!(!csrf_attrs.contains("httponly"), "{csrf_cookie}");

    let login = client
        .post(format!("{}/api/auth/login/", app.address))
        .header("Cookie", format!("csrftoken={token}"))
        .header("X-CSRFToken", &token)
        .json(&json!({ "email": user.email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let session = set_cookie(&login, "sessionid").to_owned();
    let attrs = attributes(&session);
    for wanted in [
        "secure",
        "httponly",
        "samesite=lax",
        "path=/",
        "max-age=3600",
    ] {
        assert!(attrs.contains(wanted), "sessionid {wanted}: {session}");
    }
    let rotated = set_cookie(&login, "csrftoken").to_owned();
    assert!(attributes(&rotated).contains("secure"), "{rotated}");
    let key = session.split(';').next().unwrap().to_owned();
    let new_token = rotated
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("csrftoken=")
        .to_owned();

    let logout = client
        .post(format!("{}/api/auth/logout/", app.address))
        .header("Cookie", format!("{key}; csrftoken={new_token}"))
        .header("X-CSRFToken", &new_token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    let removal = set_cookie(&logout, "sessionid").to_owned();
    let attrs = attributes(&removal);
    assert!(removal.starts_with("sessionid=;"), "emptied: {removal}");
    for wanted in ["secure", "httponly", "samesite=lax", "path=/", "max-age=0"] {
        assert!(attrs.contains(wanted), "removal {wanted}: {removal}");
    }
}

/// `/api/auth/me/` with only `sessionid={key}`: the status and the body.
async fn me_with_session(app: &TestApp, key: &str) -> (u16, Value) {
    let response = app.me_with_session_key(key).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Logs in with `planted` as the browser's `sessionid`; the key issued.
async fn login_over(app: &TestApp, email: &str, planted: &str) -> String {
    let token = "c".repeat(64);
    let response = reqwest::Client::new()
        .post(format!("{}/api/auth/login/", app.address))
        .header("Cookie", format!("sessionid={planted}; csrftoken={token}"))
        .header("X-CSRFToken", &token)
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = set_cookie(&response, "sessionid");
    cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("sessionid=")
        .to_owned()
}

#[tokio::test]
async fn a_session_id_planted_before_login_is_replaced_and_never_authenticates() {
    let app = spawn_app().await;
    let ana = app.create_user("ana@example.com", false).await;
    let eve = app.create_user("eve@example.com", false).await;

    // Eve plants a key of her choosing in Ana's browser…
    let chosen = "a".repeat(64);
    let issued = login_over(&app, &ana.email, &chosen).await;
    assert_ne!(issued, chosen, "the server issues its own key");
    assert_eq!(me_with_session(&app, &chosen).await.0, 401);
    assert_eq!(me_with_session(&app, &issued).await.0, 200);

    // …or her own logged-in session, hoping Ana's login upgrades it.
    let eves_key = app.browser(&eve).await.cookie("sessionid").unwrap();
    let issued = login_over(&app, &ana.email, &eves_key).await;
    assert_ne!(issued, eves_key);
    assert_eq!(
        me_with_session(&app, &eves_key).await.0,
        401,
        "the planted key ended with the login"
    );
    let (_, me) = me_with_session(&app, &issued).await;
    assert_eq!(me["email"], "ana@example.com");
}

#[tokio::test]
async fn a_session_is_dead_after_logout_even_with_its_csrf_token() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let id = app.paid_for_checkout(&browser, 1).await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = browser.cookie("sessionid").unwrap();
    let token = browser.csrf_cookie().unwrap();
    assert_eq!(
        app.post_empty(&browser, "/api/auth/logout/").await.status(),
        204
    );
    // The stolen pair (cookie + token) replayed from elsewhere.
    let replay = reqwest::Client::new()
        .post(format!("{}/api/payments/{id}/cancel/", app.address))
        .header("Cookie", format!("sessionid={key}; csrftoken={token}"))
        .header("X-CSRFToken", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
    let status: Value = app
        .status(&app.script(&user).await, &id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["payment_status"], "PENDING", "nothing was cancelled");
}

async fn detail(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (
        status,
        body["detail"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The operations a browser could be tricked into sending (unsafe methods
/// with a cookie), minus the one that does not use cookies at all.
fn csrf_protected(ops: &[Operation]) -> Vec<Operation> {
    let mut unsafe_ops: Vec<Operation> = ops
        .iter()
        .filter(|op| op.is_unsafe())
        // Stripe's webhook is authenticated by its HMAC signature, not by a
        // cookie, and a browser cannot forge the signature; a cookie sent
        // along gives it nothing (checked below).
        .filter(|op| op.path != "/api/payments/webhook/")
        .cloned()
        .collect();
    // Logout last: it ends the session the others need.
    unsafe_ops.sort_by_key(|op| op.path == "/api/auth/logout/");
    unsafe_ops
}

#[tokio::test]
async fn every_unsafe_cookie_authenticated_route_refuses_a_request_without_a_valid_csrf_token() {
    let app = spawn_app().await;
    let ana = app.create_user("ana@example.com", false).await;
    let boss = app.create_user("boss@example.com", true).await;
    let ana_browser = app.browser(&ana).await;
    let id = app.paid_for_checkout(&ana_browser, 1).await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Staff, so that staff-only routes get as far as the CSRF check.
    let browser = app.browser(&boss).await;
    let ops = csrf_protected(&operations(&app).await);
    assert!(ops.len() >= 7, "{ops:?}");
    for op in &ops {
        // A login carries no session to ride on: like DRF, it needs no
        // token, and is guarded by its Origin and a sent token (below).
        if op.path != "/api/auth/login/" {
            let missing = op
                .request(&browser.without_csrf(), &id)
                .send()
                .await
                .unwrap();
            let (status, text) = detail(missing).await;
            assert_eq!(status, 403, "{} without X-CSRFToken", op.name());
            assert!(text.starts_with(CSRF_FAILED), "{}: {text}", op.name());
        }

        let forged = op
            .request(&browser.without_csrf(), &id)
            .header("X-CSRFToken", "0".repeat(64))
            .send()
            .await
            .unwrap();
        let (status, text) = detail(forged).await;
        assert_eq!(status, 403, "{} with a forged X-CSRFToken", op.name());
        assert!(text.starts_with(CSRF_FAILED), "{}: {text}", op.name());

        let cross_site = op
            .request(&browser, &id)
            .header("Origin", "http://evil.test")
            .send()
            .await
            .unwrap();
        let (status, text) = detail(cross_site).await;
        assert_eq!(status, 403, "{} from an untrusted origin", op.name());
        assert!(text.starts_with(CSRF_FAILED), "{}: {text}", op.name());
    }
    // The same requests with the token pass the check (so the refusals
    // above were the CSRF check's, not something else's).
    for op in &ops {
        let (status, text) = detail(op.request(&browser, &id).send().await.unwrap()).await;
        assert!(
            !text.starts_with(CSRF_FAILED) && status != 401,
            "{} with the token: {status} {text}",
            op.name()
        );
    }
    // A session cookie lends the webhook nothing: the signature decides.
    let webhook = ana_browser
        .request(Method::POST, "/api/payments/webhook/")
        .header("Stripe-Signature", "t=1,v1=00")
        .json(&json!({ "id": "evt_forged", "type": "checkout.session.completed" }))
        .send()
        .await
        .unwrap();
    assert_eq!(webhook.status(), 400);
}

#[tokio::test]
async fn every_per_payment_route_answers_someone_elses_payment_as_if_it_did_not_exist() {
    let app = spawn_app().await;
    let ana = app.create_user("ana@example.com", false).await;
    let eve = app.create_user("eve@example.com", false).await;
    let ana_browser = app.browser(&ana).await;
    let id = app.paid_for_checkout(&ana_browser, 2).await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unknown = uuid::Uuid::new_v4().to_string();
    let eves = [
        ("eve's browser", app.browser(&eve).await),
        ("eve's token", app.script(&eve).await),
    ];
    let ops: Vec<Operation> = operations(&app)
        .await
        .into_iter()
        .filter(Operation::is_per_payment)
        .collect();
    assert!(ops.len() >= 6, "{ops:?}");
    for op in &ops {
        for (who, caller) in &eves {
            let (status, text) = detail(op.request(caller, &id).send().await.unwrap()).await;
            let expected = if op.is_staff_only() { 403 } else { 404 };
            assert_eq!(status, expected, "{who}: {} → {text}", op.name());
            // No oracle: the answer is the one for a payment that does not exist.
            let (unknown_status, unknown_text) =
                detail(op.request(caller, &unknown).send().await.unwrap()).await;
            assert_eq!(
                (status, &text),
                (unknown_status, &unknown_text),
                "{who}: {}",
                op.name()
            );
        }
    }
    // Nothing eve sent changed ana's payment.
    let status: Value = app.status(&ana_browser, &id).await.json().await.unwrap();
    assert_eq!(status["payment_status"], "PENDING");
    assert_eq!(app.units_sold().await, 2);
    // The owner does reach every route that is not staff-only.
    for op in ops.iter().filter(|op| !op.is_staff_only()) {
        let (status, text) = detail(op.request(&ana_browser, &id).send().await.unwrap()).await;
        assert!(
            (200..300).contains(&status),
            "owner: {} → {status} {text}",
            op.name()
        );
    }
}

#[tokio::test]
async fn staff_only_routes_are_exactly_the_documented_ones_and_refuse_users_with_403() {
    let app = spawn_app().await;
    let ana = app.create_user("ana@example.com", false).await;
    let boss = app.create_user("boss@example.com", true).await;
    let users = [
        ("ana's browser", app.browser(&ana).await),
        ("ana's token", app.script(&ana).await),
    ];
    let staff = [
        ("boss's browser", app.browser(&boss).await),
        ("boss's token", app.script(&boss).await),
    ];
    let id = app.paid_for_checkout(&users[1].1, 1).await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ops = csrf_protected(&operations(&app).await);
    let safe: Vec<Operation> = operations(&app)
        .await
        .into_iter()
        .filter(|op| !op.is_unsafe())
        .collect();
    // Reads, then writes (logout last).
    let ops: Vec<&Operation> = safe.iter().chain(ops.iter()).collect();
    let staff_only: Vec<&&Operation> = ops.iter().filter(|op| op.is_staff_only()).collect();
    assert!(staff_only.len() >= 5, "{staff_only:?}");
    for op in &ops {
        for (who, caller) in &users {
            let (status, text) = detail(op.request(caller, &id).send().await.unwrap()).await;
            if op.is_staff_only() {
                assert_eq!(status, 403, "{who}: {}", op.name());
                assert_eq!(text, PERMISSION_DENIED, "{who}: {}", op.name());
            } else {
                // (A token caller fails login's CSRF check: a 403, but
                // not this one.)
                assert_ne!(
                    text,
                    PERMISSION_DENIED,
                    "{who}: {} is refused to non-staff but not documented so",
                    op.name()
                );
            }
        }
    }
    for op in &staff_only {
        for (who, caller) in &staff {
            let (status, text) = detail(op.request(caller, &id).send().await.unwrap()).await;
            assert!(
                (200..300).contains(&status),
                "{who}: {} → {status} {text}",
                op.name()
            );
        }
    }
}

#[tokio::test]
async fn the_login_limit_holds_for_the_right_password_and_ignores_forwarded_for_headers() {
    let app = spawn_app_with(Options {
        login_per_minute: 3,
        ..Options::default()
    })
    .await;
    let user = app.create_user("ana@example.com", false).await;
    let caller = app.anonymous();
    app.get_csrf(&caller).await;
    for guess in ["a", "b", "c"] {
        assert_eq!(app.login(&caller, &user.email, guess).await.status(), 401);
    }
    // TRUST_FORWARDED_FOR is off: a spoofed client address is no way out.
    for spoof in ["203.0.113.7", "198.51.100.1", "unknown"] {
        let response = caller
            .request(Method::POST, "/api/auth/login/")
            .header("X-Forwarded-For", spoof)
            .header("Forwarded", format!("for={spoof}"))
            .json(&json!({ "email": user.email, "password": "d" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429, "spoofed {spoof}");
    }
    // Once limited, even the right password is not tried.
    let response = app.login(&caller, &user.email, PASSWORD).await;
    assert_eq!(response.status(), 429);
    assert!(caller.cookie("sessionid").is_none());
}

async fn count(app: &TestApp, table: &str) -> i64 {
    let n = match table {
        "stripe_events" => {
            stripe_events::table
                .count()
                .get_result(&mut *app.db.conn().await)
                .await
        }
        _ => {
            task_records::table
                .count()
                .get_result(&mut *app.db.conn().await)
                .await
        }
    };
    n.expect("count")
}

async fn sweep(app: &TestApp) -> domain::services::SweepReport {
    let mut opts = domain::services::SweepOptions::new(domain::jobs::SweepTrigger::Oneoff);
    opts.event_grace = std::time::Duration::ZERO;
    let stripe = gateway(app.stripe.base_url());
    domain::services::run_sweep(
        app.db.pool(),
        stripe.as_ref(),
        &stripe_client::webhook::StripeEventParser,
        &opts,
        None,
    )
    .await
    .expect("sweep")
}

#[tokio::test]
async fn a_replayed_webhook_is_acknowledged_but_never_processed_twice() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let checkout = app.paid_for_checkout(&browser, 2).await;
    let session_id = checkout["session_id"].as_str().unwrap();
    let session = app.stripe.expire_session(session_id).unwrap();
    let event = session_event("evt_replayed", "checkout.session.expired", &session);
    let body = serde_json::to_vec(&event).unwrap();
    let signed_at = now();
    let header = stripe_client::webhook::sign(&body, WEBHOOK_SECRET, signed_at);
    let deliver = |header: String| {
        reqwest::Client::new()
            .post(format!("{}/api/payments/webhook/", app.address))
            .header("Content-Type", "application/json")
            .header("Stripe-Signature", header)
            .body(body.clone())
            .send()
    };
    assert_eq!(deliver(header.clone()).await.unwrap().status(), 200);
    let first = sweep(&app).await;
    assert!(first.events_processed >= 1, "{first:?}");
    assert_eq!(app.units_sold().await, 0, "released once");
    let tasks = count(&app, "task_records").await;

    // The captured request, replayed verbatim within the tolerance.
    let replay = deliver(header).await.unwrap();
    assert_eq!(replay.status(), 200);
    let ack: Value = replay.json().await.unwrap();
    assert_eq!(ack, json!({ "received": true, "duplicate": true }));
    // The same payload re-signed ten minutes ago: refused outright.
    let stale = stripe_client::webhook::sign(&body, WEBHOOK_SECRET, signed_at - 600);
    assert_eq!(deliver(stale).await.unwrap().status(), 400);

    assert_eq!(count(&app, "stripe_events").await, 1);
    assert_eq!(count(&app, "task_records").await, tasks, "no second job");
    let again = sweep(&app).await;
    assert_eq!(again.events_processed, 0, "{again:?}");
    assert_eq!(app.units_sold().await, 0, "not released twice");
    let status: Value = app
        .status(&browser, checkout["payment_id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["payment_status"], "CANCELLED");
}
