//! Health, readiness, OpenAPI, docs, metrics, JSON errors, and the
//! cancel/webhook/sweep race.

use crate::helpers::{
    DEAD_REDIS_URL, Options, TestApp, WEBHOOK_SECRET, gateway, now, spawn_app, spawn_app_with,
};
use diesel_async::RunQueryDsl;
use domain::jobs::SweepTrigger;
use domain::services::{SweepOptions, process_stored_event, run_sweep};
use serde_json::Value;
use std::time::Duration;
use stripe_client::webhook::StripeEventParser as Parser;

#[tokio::test]
async fn healthz_and_readyz_answer_ok() {
    let app = spawn_app().await;
    let health = reqwest::get(format!("{}/healthz", app.address))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("{}/readyz", app.address))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["postgres"], "ok");
    assert_eq!(body["checks"]["redis"], "ok");
}

#[tokio::test]
async fn head_is_answered_like_get_without_a_body() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz", "/api/products/"] {
        let get = reqwest::get(format!("{}{path}", app.address))
            .await
            .unwrap();
        let head = reqwest::Client::new()
            .head(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), get.status(), "HEAD {path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "HEAD {path}"
        );
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path} has no body"
        );
    }
    // Anonymous is still anonymous: HEAD is not a way around the checks.
    let me = reqwest::Client::new()
        .head(format!("{}/api/auth/me/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
}

#[derive(diesel::QueryableByName)]
struct Connections {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

#[tokio::test]
async fn the_server_threads_share_database_pool_size_between_them() {
    let app = spawn_app_with(Options {
        pool_size: 4,
        ..Options::default()
    })
    .await;
    let user = app.create_user("pool@example.com", false).await;
    let caller = app.browser(&user).await;

    let answers =
        futures::future::join_all((0..40).map(|_| app.get(&caller, "/api/auth/me/"))).await;

    assert!(answers.iter().all(|r| r.status() == 200));
    // The API's connections are the ones whose last statement read a
    // login session; each thread keeps its idle connections open.
    let opened = diesel::sql_query(
        "SELECT count(*) AS count FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND query LIKE '%FROM (\"sessions\"%'",
    )
    .get_result::<Connections>(&mut *app.db.conn().await)
    .await
    .expect("count connections")
    .count;
    assert!((1..=4).contains(&opened), "{opened} connections");
}

#[tokio::test]
async fn readyz_is_503_naming_redis_when_it_is_down_while_sync_endpoints_work() {
    let app = spawn_app_with(Options {
        redis_url: DEAD_REDIS_URL.into(),
        ..Options::default()
    })
    .await;
    let ready = reqwest::get(format!("{}/readyz", app.address))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["retry-after"], "5", "as every 503");
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["postgres"], "ok");
    assert!(
        body["checks"]["redis"]
            .as_str()
            .unwrap()
            .starts_with("down")
    );
    assert_eq!(body["detail"], "No disponible: Redis");
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let checkout = app.paid_for_checkout(&browser, 1).await;
    let id = checkout["payment_id"].as_str().unwrap();
    assert_eq!(app.cancel(&browser, id).await.status(), 200);
}

#[tokio::test]
async fn the_schema_lists_every_path_of_the_spec_and_the_docs_work_offline() {
    let app = spawn_app().await;
    let schema: Value = reqwest::get(format!("{}/api/schema/", app.address))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(schema["openapi"].as_str().unwrap().starts_with("3."));
    let paths = schema["paths"].as_object().unwrap();
    for path in [
        "/api/auth/csrf/",
        "/api/auth/login/",
        "/api/auth/logout/",
        "/api/auth/me/",
        "/api/products/",
        "/api/payments/checkout/",
        "/api/payments/",
        "/api/payments/{id}/",
        "/api/payments/{id}/cancel/",
        "/api/payments/{id}/status/",
        "/api/payments/{id}/sync_status/",
        "/api/payments/check_expired_sessions/",
        "/api/payments/task_status/",
        "/api/payments/test_cancellation/",
        "/api/payments/{id}/debug_cancel/",
        "/api/payments/{id}/timeline/",
        "/api/payments/payment_stats/",
        "/api/payments/payment_stats_public/",
        "/api/payments/webhook/",
        "/healthz",
        "/readyz",
    ] {
        assert!(paths.contains_key(path), "{path} missing from the schema");
    }
    let schemas = schema["components"]["schemas"].as_object().unwrap();
    for name in [
        "PaymentBody",
        "CancelBody",
        "CheckoutBody",
        "SyncBody",
        "TaskStatusBody",
        "ErrorBody",
    ] {
        assert!(schemas.contains_key(name), "{name} missing from the schema");
    }
    let security = schema["components"]["securitySchemes"].as_object().unwrap();
    assert!(security.contains_key("session") && security.contains_key("token"));
    let docs = reqwest::get(format!("{}/api/docs/", app.address))
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger"), "Swagger UI page");
    for cdn in ["unpkg.com", "cdn.jsdelivr.net", "cdnjs"] {
        assert!(!html.contains(cdn), "docs page loads from {cdn}");
    }
}

async fn metrics_text(app: &TestApp) -> String {
    reqwest::get(format!("{}/metrics", app.address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn metrics_count_requests_per_route() {
    let app = spawn_app().await;
    reqwest::get(format!("{}/healthz", app.address))
        .await
        .unwrap();
    let text = metrics_text(&app).await;
    assert!(text.contains("payments_api_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/healthz\""));
    // There before the first refused webhook, so alerts see it rise.
    assert!(
        text.lines()
            .any(|l| l == "payments_webhook_signature_failures_total 0"),
        "{text}"
    );
}

#[tokio::test]
async fn stripe_failing_the_apis_cancels_shows_in_its_stripe_error_metric() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let checkout: Value = app.checkout(&browser, 1).await.json().await.unwrap();
    let session_id = checkout["session_id"].as_str().unwrap();
    app.refuse_expiry(session_id);

    let payment_id = checkout["payment_id"].as_str().unwrap();
    let cancel = app.cancel(&browser, payment_id).await;
    assert_eq!(cancel.status(), 200, "cancelled locally");

    let text = metrics_text(&app).await;
    let errors = text
        .lines()
        .find(|l| {
            l.starts_with("payments_stripe_call_errors_total{")
                && l.contains("operation=\"expire_checkout_session\"")
                && l.contains("kind=\"transient\"")
        })
        .unwrap_or_else(|| panic!("no Stripe error counted:\n{text}"));
    assert!(!errors.ends_with(" 0"), "{errors}");
    assert!(
        text.contains("payments_stripe_call_seconds_bucket{"),
        "call latency is a histogram:\n{text}"
    );
    // With the worker's bounds, so that the two processes' series add up.
    let top = worker::metrics::BUCKETS.last().unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("payments_stripe_call_seconds_bucket{")
                && l.contains(&format!("le=\"{top}\""))),
        "{text}"
    );
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_json() {
    let app = spawn_app().await;
    let missing = reqwest::get(format!("{}/api/nothing/", app.address))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["detail"], "No encontrado.");
    let wrong = reqwest::Client::new()
        .delete(format!("{}/api/payments/checkout/", app.address))
        .header("Accept-Language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 405);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(
        body["detail"], "Method \"DELETE\" not allowed.",
        "DRF's words"
    );
    for path in ["/healthz", "/readyz", "/metrics"] {
        let wrong = reqwest::Client::new()
            .post(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 405, "POST {path}");
    }
}

#[tokio::test]
async fn parallel_cancel_webhook_and_sweep_release_the_stock_once() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let checkout = app.paid_for_checkout(&browser, 3).await;
    let session_id = checkout["session_id"].as_str().unwrap();
    let payment_id = checkout["payment_id"].as_str().unwrap();
    app.stripe.expire_session(session_id).unwrap();
    let event = app
        .stripe
        .events()
        .into_iter()
        .find(|e| {
            e["type"] == "checkout.session.expired" && e["data"]["object"]["id"] == session_id
        })
        .expect("the emulator emitted checkout.session.expired");
    let event_id = event["id"].as_str().unwrap().to_owned();
    let stripe = gateway(app.stripe.base_url());
    let mut opts = SweepOptions::new(SweepTrigger::Oneoff);
    opts.force = true;
    opts.session_ttl = Duration::ZERO;
    opts.event_grace = Duration::ZERO;

    let cancel = app.cancel(&browser, payment_id);
    let webhook = async {
        let response = app.webhook(&event, WEBHOOK_SECRET, now()).await;
        assert_eq!(response.status(), 200);
        // What the worker does with the job.
        let mut conn = app.db.conn().await;
        let _ = process_stored_event(&mut conn, stripe.as_ref(), &Parser, &event_id).await;
    };
    let sweep = run_sweep(app.db.pool(), stripe.as_ref(), &Parser, &opts, None);
    let (cancelled, (), swept) = tokio::join!(cancel, webhook, sweep);
    assert_eq!(cancelled.status(), 200);
    swept.expect("sweep ran");

    assert_eq!(app.units_sold().await, 0, "released exactly once");
    let mut conn = app.db.conn().await;
    domain::testing::check_invariants(&mut conn)
        .await
        .assert_ok();
    let status: Value = app.status(&browser, payment_id).await.json().await.unwrap();
    assert_eq!(status["payment_status"], "CANCELLED");
}
