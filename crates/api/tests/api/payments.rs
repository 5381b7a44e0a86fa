//! Reading payments and products; status, refresh and sync with Stripe;
//! timeline and statistics.

use crate::helpers::{DEAD_REDIS_URL, Options, spawn_app, spawn_app_with};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use stripe_emulator::PayOutcome;

fn id_of(body: &Value) -> String {
    body["payment_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn status_has_the_seed_shape_field_by_field() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let checkout = app.paid_for_checkout(&browser, 1).await;
    let body: Value = app
        .status(&browser, &id_of(&checkout))
        .await
        .json()
        .await
        .unwrap();
    let fields: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "amount",
        "created_at",
        "currency",
        "error_message",
        "order_id",
        "order_status",
        "order_status_display",
        "payment_id",
        "payment_status",
        "payment_status_display",
        "stripe",
        "updated_at",
    ];
    expected.sort_unstable();
    assert_eq!(fields, expected);
    assert_eq!(body["payment_id"], checkout["payment_id"]);
    assert_eq!(body["order_id"], checkout["order_id"]);
    assert_eq!(body["payment_status"], "PENDING");
    assert_eq!(body["payment_status_display"], "Pendiente");
    assert_eq!(body["order_status"], "PENDING");
    assert_eq!(body["order_status_display"], "Pendiente");
    assert_eq!(body["amount"], "10.00");
    assert_eq!(body["currency"], "USD");
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    let stripe = &body["stripe"];
    assert_eq!(stripe["session_id"], checkout["session_id"]);
    assert_eq!(stripe["session_status"], "open");
    assert_eq!(stripe["payment_status"], "unpaid");
    assert!(stripe["expires_at"].is_i64());
    assert!(stripe["checkout_url"].is_string());
}

#[tokio::test]
async fn displays_are_english_with_accept_language_en() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let id = id_of(&app.paid_for_checkout(&browser, 1).await);
    app.cancel(&browser, &id).await;
    let body: Value = app
        .status(&browser.english(), &id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["payment_status_display"], "Cancelled");
    assert_eq!(body["order_status_display"], "Cancelled");
    let spanish = app.status(&browser, &id).await;
    let vary = spanish
        .headers()
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ");
    assert!(
        vary.contains("Accept-Language"),
        "caches keep the languages apart: {vary}"
    );
    assert_eq!(spanish.headers()["content-language"], "es");
    let body: Value = spanish.json().await.unwrap();
    assert_eq!(body["payment_status_display"], "Cancelado");
    let english = app.status(&browser.english(), &id).await;
    assert_eq!(english.headers()["content-language"], "en");
}

#[tokio::test]
async fn status_of_someone_elses_payment_is_404() {
    let app = spawn_app().await;
    let ana = app.create_user("ana@example.com", false).await;
    let eve = app.create_user("eve@example.com", false).await;
    let id = id_of(&app.paid_for_checkout(&app.browser(&ana).await, 1).await);
    let eve = app.browser(&eve).await;
    assert_eq!(app.status(&eve, &id).await.status(), 404);
    assert_eq!(
        app.get(&eve, &format!("/api/payments/{id}/"))
            .await
            .status(),
        404
    );
    assert_eq!(app.status(&app.anonymous(), &id).await.status(), 401);
}

#[tokio::test]
async fn status_refresh_asks_stripe_and_stores_the_answer() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let checkout = app.paid_for_checkout(&browser, 1).await;
    app.stripe
        .expire_session(checkout["session_id"].as_str().unwrap())
        .unwrap();
    let stale: Value = app
        .status(&browser, &id_of(&checkout))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        stale["stripe"]["session_status"], "open",
        "local mirror by default"
    );
    let path = format!("/api/payments/{}/status/?refresh=true", id_of(&checkout));
    let fresh: Value = app.get(&browser, &path).await.json().await.unwrap();
    assert_eq!(fresh["stripe"]["session_status"], "expired");
    assert_eq!(fresh["stripe"]["checkout_url"], Value::Null);
    let stored: Value = app
        .status(&browser, &id_of(&checkout))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["stripe"]["session_status"], "expired");
}

#[tokio::test]
async fn list_shows_own_payments_to_users_and_all_to_staff() {
    let app = spawn_app().await;
    let ana = app.create_user("ana@example.com", false).await;
    let eve = app.create_user("eve@example.com", false).await;
    let boss = app.create_user("boss@example.com", true).await;
    let ana = app.browser(&ana).await;
    app.paid_for_checkout(&ana, 1).await;
    app.paid_for_checkout(&ana, 1).await;
    app.paid_for_checkout(&app.browser(&eve).await, 1).await;
    let page: Value = app
        .get(&ana, "/api/payments/?page_size=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["count"], 2);
    assert_eq!(page["previous"], Value::Null);
    assert!(
        page["next"]
            .as_str()
            .unwrap()
            .ends_with("/api/payments/?page_size=1&page=2")
    );
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    assert_eq!(page["results"][0]["payment_status_display"], "Pendiente");
    let all: Value = app
        .get(&app.browser(&boss).await, "/api/payments/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["count"], 3);
    assert_eq!(app.get(&ana, "/api/payments/?page=9").await.status(), 404);
    let last: Value = app
        .get(&ana, "/api/payments/?page_size=1&page=last")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(last["count"], 2);
    assert_eq!(last["next"], Value::Null);
    assert_eq!(last["results"].as_array().unwrap().len(), 1);
    assert_ne!(
        last["results"][0]["payment_id"],
        page["results"][0]["payment_id"]
    );
}

#[tokio::test]
async fn products_are_listed_paginated_with_availability() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    app.paid_for_checkout(&app.browser(&user).await, 4).await;
    let body: Value = app
        .get(&app.anonymous(), "/api/products/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body,
        json!({
            "count": 1, "next": null, "previous": null,
            "results": [{ "id": app.product.0, "name": "Product SKU-1", "price": "10.00", "currency": "USD", "available": 6 }],
        })
    );
    let bad = app.get(&app.anonymous(), "/api/products/?page=0").await;
    assert_eq!(bad.status(), 404);
}

#[tokio::test]
async fn sync_status_reports_an_open_session() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let id = id_of(&app.paid_for_checkout(&browser, 1).await);
    let body: Value = app.sync_status(&browser, &id).await.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "status": "open",
            "message": "La sesión de Stripe sigue abierta",
            "payment_status": "PENDING",
            "stripe_status": "open",
        })
    );
}

#[tokio::test]
async fn sync_status_completes_a_paid_payment() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let checkout = app.paid_for_checkout(&browser, 1).await;
    app.stripe
        .pay_session(
            checkout["session_id"].as_str().unwrap(),
            PayOutcome::Succeed,
        )
        .unwrap();
    let body: Value = app
        .sync_status(&browser, &id_of(&checkout))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "completed");
    assert_eq!(body["payment_status"], "COMPLETED");
    assert_eq!(body["stripe_status"], "complete");
    let again: Value = app
        .sync_status(&browser, &id_of(&checkout))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["status"], "unchanged");
}

#[tokio::test]
async fn sync_status_refunds_a_payment_paid_after_it_was_cancelled() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await.english();
    let checkout = app.paid_for_checkout(&browser, 1).await;
    let session_id = checkout["session_id"].as_str().unwrap();
    // Stripe refuses the expiry, so the session stays payable after the
    // local cancellation (reads still work).
    app.refuse_expiry(session_id);
    let cancelled: Value = app
        .cancel(&browser, &id_of(&checkout))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["payment_status"], "CANCELLED");
    app.stripe
        .pay_session(session_id, PayOutcome::Succeed)
        .unwrap();

    let synced: Value = app
        .sync_status(&browser, &id_of(&checkout))
        .await
        .json()
        .await
        .unwrap();
    let again: Value = app
        .sync_status(&browser, &id_of(&checkout))
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(synced["status"], "completed", "{synced}");
    assert_eq!(synced["payment_status"], "REFUNDED");
    assert_eq!(
        synced["message"],
        "The payment arrived after the cancellation and has been refunded"
    );
    assert_eq!(again["status"], "unchanged", "{again}");
    let refunds = app
        .stripe
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/refunds")
        .count();
    assert_eq!(refunds, 1, "one refund whatever the syncs");

    // Cancelling it now is a conflict that says what happened to it.
    let cancel = app.cancel(&browser, &id_of(&checkout)).await;
    assert_eq!(cancel.status(), 409);
    let body: Value = cancel.json().await.unwrap();
    assert_eq!(body["detail"], "The payment was already refunded.");
    assert_eq!(body["payment_status"], "REFUNDED");
}

#[tokio::test]
async fn sync_status_enqueues_the_cancellation_of_an_expired_session() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let checkout = app.paid_for_checkout(&browser, 1).await;
    app.stripe
        .expire_session(checkout["session_id"].as_str().unwrap())
        .unwrap();
    let response = app.sync_status(&browser, &id_of(&checkout)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "expired");
    assert_eq!(
        body["message"],
        "La sesión ha expirado y se está procesando la cancelación"
    );
    assert_eq!(body["stripe_status"], "expired");
    let task_id = body["task_id"].as_str().unwrap();
    let task: Value = app
        .task_status(&browser, task_id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(task["status"], "PENDING");
    assert_eq!(task["ready"], false);
    assert_eq!(task["message"], "Tarea pendiente");
}

#[tokio::test]
async fn sync_status_is_503_when_redis_is_down() {
    let app = spawn_app_with(Options {
        redis_url: DEAD_REDIS_URL.into(),
        ..Options::default()
    })
    .await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let checkout = app.paid_for_checkout(&browser, 1).await;
    app.stripe
        .expire_session(checkout["session_id"].as_str().unwrap())
        .unwrap();
    let response = app.sync_status(&browser, &id_of(&checkout)).await;
    assert_eq!(response.status(), 503);
    // When to try again, as for a 429.
    assert_eq!(response.headers()["retry-after"], "5");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"], "Cola de tareas no disponible");
}

#[tokio::test]
async fn timeline_is_staff_only_and_lists_the_transitions_in_order() {
    let app = spawn_app().await;
    let ana = app.create_user("ana@example.com", false).await;
    let boss = app.create_user("boss@example.com", true).await;
    let ana = app.browser(&ana).await;
    let id = id_of(&app.paid_for_checkout(&ana, 1).await);
    app.cancel(&ana, &id).await;
    let path = format!("/api/payments/{id}/timeline/");
    assert_eq!(app.get(&ana, &path).await.status(), 403);
    let body: Value = app
        .get(&app.browser(&boss).await, &path)
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[0], "created");
    let transitions: Vec<&Value> = body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "transition")
        .collect();
    assert_eq!(transitions.len(), 2, "payment and order");
    assert!(
        transitions
            .iter()
            .all(|t| t["to"] == "CANCELLED" && t["source"] == "user")
    );
}

#[tokio::test]
async fn stats_are_for_staff_and_public_counts_carry_no_money() {
    let app = spawn_app().await;
    let ana = app.create_user("ana@example.com", false).await;
    let boss = app.create_user("boss@example.com", true).await;
    let ana = app.browser(&ana).await;
    let id = id_of(&app.paid_for_checkout(&ana, 2).await);
    app.paid_for_checkout(&ana, 1).await;
    app.cancel(&ana, &id).await;
    assert_eq!(
        app.get(&ana, "/api/payments/payment_stats/").await.status(),
        403
    );
    let stats: Value = app
        .get(&app.browser(&boss).await, "/api/payments/payment_stats/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total_payments"], 2);
    assert_eq!(stats["by_status"]["CANCELLED"]["count"], 1);
    assert_eq!(stats["by_status"]["CANCELLED"]["amounts"]["USD"], "20.00");
    assert_eq!(stats["by_status"]["PENDING"]["display"], "Pendiente");
    assert_eq!(stats["cancellations_by_source"]["user"], 1);
    assert_eq!(stats["pending_expired"], 0);
    let public: Value = app
        .get(&app.anonymous(), "/api/payments/payment_stats_public/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        public,
        json!({
            "total_payments": 2,
            "by_status": { "PENDING": 1, "COMPLETED": 0, "FAILED": 0, "CANCELLED": 1, "REFUNDED": 0 },
        })
    );
}

#[tokio::test]
async fn sync_status_without_a_session_says_no_session() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let id = id_of(&app.paid_for_checkout(&browser, 1).await);
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("UPDATE payments SET stripe_session_id = NULL"),
        &mut *app.db.conn().await,
    )
    .await
    .unwrap();
    let body: Value = app
        .sync_status(&browser.english(), &id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body,
        json!({
            "status": "no_session",
            "message": "The payment has no Stripe session",
            "payment_status": "PENDING",
            "stripe_status": null,
        })
    );
    let status: Value = app.status(&browser, &id).await.json().await.unwrap();
    assert_eq!(status["stripe"], Value::Null);
}

/// Reading a payment looks the caller up in the same round trip as the
/// payment: who may see it is still decided by the caller, and a caller
/// who is not logged in is 401 whatever the id.
#[tokio::test]
async fn payment_reads_check_the_caller_before_the_payment() {
    let app = spawn_app().await;
    let ana = app.create_user("ana@example.com", false).await;
    let staff = app.create_user("staff@example.com", true).await;
    let id = id_of(&app.paid_for_checkout(&app.browser(&ana).await, 1).await);

    let staff = app.browser(&staff).await;
    assert_eq!(app.status(&staff, &id).await.status(), 200);
    let script = app.script(&ana).await.without_csrf();
    assert_eq!(app.status(&script, &id).await.status(), 200);
    let detail = app.get(&script, &format!("/api/payments/{id}/")).await;
    assert_eq!(detail.status(), 200);

    let anonymous = app.anonymous();
    for path in [
        "/api/payments/not-a-uuid/status/",
        "/api/payments/not-a-uuid/",
    ] {
        assert_eq!(app.get(&anonymous, path).await.status(), 401, "{path}");
    }
    let forged = anonymous
        .request(reqwest::Method::GET, &format!("/api/payments/{id}/status/"))
        .header("Authorization", "Token not-a-real-key")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    assert_eq!(app.cancel(&anonymous, &id).await.status(), 401);
}

#[tokio::test]
async fn a_deactivated_user_can_no_longer_read_their_payments() {
    let app = spawn_app().await;
    let ana = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&ana).await;
    let id = id_of(&app.paid_for_checkout(&browser, 1).await);
    assert_eq!(app.status(&browser, &id).await.status(), 200);

    diesel::update(domain::schema::users::table.find(ana.id))
        .set(domain::schema::users::is_active.eq(false))
        .execute(&mut *app.db.conn().await)
        .await
        .unwrap();
    assert_eq!(app.status(&browser, &id).await.status(), 401);
    assert_eq!(app.cancel(&browser, &id).await.status(), 401);
}

/// `next` of the product list at one product per page, asked with a
/// proxy's forwarded host and scheme.
async fn forwarded_next_link(app: &crate::helpers::TestApp) -> String {
    domain::testing::seed_product(&mut *app.db.conn().await, "SKU-2", 500, 3).await;
    let page: Value = reqwest::Client::new()
        .get(format!("{}/api/products/?page_size=1", app.address))
        .header("X-Forwarded-Host", "api.example.com")
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["next"].as_str().expect("a next page").to_owned()
}

#[tokio::test]
async fn pagination_links_ignore_forwarded_headers_unless_the_proxy_is_trusted() {
    let app = spawn_app().await;
    let next = forwarded_next_link(&app).await;
    assert_eq!(
        next,
        format!("{}/api/products/?page_size=1&page=2", app.address)
    );

    let behind_a_proxy = spawn_app_with(Options {
        trust_forwarded_for: true,
        ..Options::default()
    })
    .await;
    let next = forwarded_next_link(&behind_a_proxy).await;
    assert_eq!(
        next,
        "https://api.example.com/api/products/?page_size=1&page=2"
    );
}
