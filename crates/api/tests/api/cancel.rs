//! `POST /api/payments/{id}/cancel/`: owner/staff, idempotent, Stripe down,
//! already paid.

use crate::helpers::{Options, spawn_app, spawn_app_with};
use domain::PaymentId;
use domain::models::payment::Payment;
use reqwest::Method;
use serde_json::{Value, json};
use stripe_emulator::{Fault, PayOutcome};

fn id_of(body: &Value) -> String {
    body["payment_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn owner_cancels_and_gets_the_seed_shape() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let checkout = app.paid_for_checkout(&browser, 3).await;
    assert_eq!(app.units_sold().await, 3);
    let response = app.cancel(&browser, &id_of(&checkout)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "status": "cancelled",
            "payment_id": checkout["payment_id"],
            "order_id": checkout["order_id"],
            "message": "Pago cancelado exitosamente",
            "payment_status": "CANCELLED",
            "order_status": "CANCELLED",
        })
    );
    assert_eq!(app.units_sold().await, 0);
    let session = checkout["session_id"].as_str().unwrap();
    let expired = app
        .stripe
        .requests()
        .iter()
        .any(|r| r.path.contains(&format!("{session}/expire")));
    assert!(expired, "the Stripe session was expired");
}

#[tokio::test]
async fn cancelling_twice_is_idempotent_and_releases_once() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await.english();
    let id = id_of(&app.paid_for_checkout(&browser, 2).await);
    assert_eq!(app.cancel(&browser, &id).await.status(), 200);
    let again = app.cancel(&browser, &id).await;
    assert_eq!(again.status(), 200);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["message"], "Payment was already cancelled");
    assert_eq!(body["payment_status"], "CANCELLED");
    assert_eq!(app.units_sold().await, 0);
    domain::testing::check_invariants(&mut *app.db.conn().await)
        .await
        .assert_ok();
}

#[tokio::test]
async fn cancel_of_someone_elses_payment_is_404() {
    let app = spawn_app().await;
    let ana = app.create_user("ana@example.com", false).await;
    let eve = app.create_user("eve@example.com", false).await;
    let id = id_of(&app.paid_for_checkout(&app.browser(&ana).await, 1).await);
    let response = app.cancel(&app.browser(&eve).await, &id).await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"], "No encontrado.");
    assert_eq!(app.units_sold().await, 1, "nothing released");
}

#[tokio::test]
async fn staff_cancels_anyones_payment_and_the_audit_says_staff() {
    let app = spawn_app().await;
    let ana = app.create_user("ana@example.com", false).await;
    let boss = app.create_user("boss@example.com", true).await;
    let id = id_of(&app.paid_for_checkout(&app.browser(&ana).await, 1).await);
    assert_eq!(
        app.cancel(&app.browser(&boss).await, &id).await.status(),
        200
    );
    let mut conn = app.db.conn().await;
    let history = domain::audit::history(
        &mut conn,
        domain::audit::Entity::Payment(id.parse().unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(history.last().unwrap().source, "staff");
    assert_eq!(history.last().unwrap().actor, "boss@example.com");
}

#[tokio::test]
async fn cancel_with_a_malformed_uuid_is_404() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let response = app.cancel(&app.browser(&user).await, "not-a-uuid").await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"], "No encontrado.");
}

#[tokio::test]
async fn cancel_when_stripe_is_down_answers_200_with_a_warning_and_remembers_stripe() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let id = id_of(&app.paid_for_checkout(&browser, 1).await);
    app.stripe.inject_fault(Fault {
        count: 20,
        status: Some(503),
        retry_after: None,
        delay_ms: 0,
        path_prefix: Some("/v1/checkout/sessions".into()),
        method: None,
    });
    let response = app.cancel(&browser, &id).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["payment_status"], "CANCELLED");
    assert_eq!(
        body["warning"],
        "Cancelado localmente; no se pudo contactar con Stripe y la sesión se expirará más tarde."
    );
    assert_eq!(app.units_sold().await, 0);
    let payment = Payment::find(&mut *app.db.conn().await, id.parse::<PaymentId>().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        payment.stripe_expire_pending,
        "the sweep will expire the session"
    );
}

/// A 400 on the expire of a session Stripe still shows open is not a
/// closed session: the customer could still pay, so the cancel says Stripe
/// has to be told and the sweep expires it later (black-box adversary:
/// the payment ended CANCELLED with its session payable and nothing
/// retrying).
#[tokio::test]
async fn a_refused_expire_of_a_session_still_open_leaves_the_expiry_to_the_sweep() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let checkout = app.paid_for_checkout(&browser, 1).await;
    let session = checkout["session_id"].as_str().unwrap();
    app.stripe.inject_fault(Fault {
        count: 1,
        status: Some(400),
        retry_after: None,
        delay_ms: 0,
        path_prefix: Some(format!("/v1/checkout/sessions/{session}/expire")),
        method: Some("POST".into()),
    });

    let response = app.cancel(&browser, &id_of(&checkout)).await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["payment_status"], "CANCELLED");
    assert!(body["warning"].is_string(), "{body}");
    let payment = Payment::find(
        &mut *app.db.conn().await,
        id_of(&checkout).parse::<PaymentId>().unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(payment.stripe_expire_pending, "the sweep will expire it");
}

#[tokio::test]
async fn cancel_of_an_already_paid_payment_is_409_and_records_completed() {
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
    let response = app.cancel(&browser, &id_of(&checkout)).await;
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["payment_status"], "COMPLETED");
    assert_eq!(body["detail"], "El pago ya se completó en Stripe.");
    let status: Value = app
        .status(&browser, &id_of(&checkout))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["payment_status"], "COMPLETED");
    assert_eq!(status["order_status"], "COMPLETED");
    assert_eq!(app.units_sold().await, 1, "sold, not released");
}

#[tokio::test]
async fn cancel_honours_idempotency_keys() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let id = id_of(&app.paid_for_checkout(&browser, 1).await);
    let send = || {
        browser
            .request(Method::POST, &format!("/api/payments/{id}/cancel/"))
            .header("Idempotency-Key", "cancel-1")
            .send()
    };
    let first: Value = send().await.unwrap().json().await.unwrap();
    let second = send().await.unwrap();
    assert_eq!(second.headers().get("idempotent-replayed").unwrap(), "true");
    assert!(
        second.headers().get("content-language").is_none(),
        "the saved answer's language is not labelled with this request's"
    );
    let second: Value = second.json().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(second["message"], "Pago cancelado exitosamente");
    // An empty JSON object is the same request as no body.
    let with_empty_object = browser
        .request(Method::POST, &format!("/api/payments/{id}/cancel/"))
        .header("Idempotency-Key", "cancel-1")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(with_empty_object.status(), 200);
    assert_eq!(
        with_empty_object
            .headers()
            .get("idempotent-replayed")
            .unwrap(),
        "true"
    );
}

/// The body is read only once the caller is known: not logged in is 401
/// whatever the body's size; logged in, an oversized body is 413 and
/// cancels nothing.
#[tokio::test]
async fn an_anonymous_cancel_is_401_whatever_its_body_and_an_oversized_one_cancels_nothing() {
    let app = spawn_app_with(Options {
        json_body_limit: 1024,
        ..Options::default()
    })
    .await;
    let ana = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&ana).await;
    let id = app.paid_for_checkout(&browser, 1).await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/payments/{id}/cancel/");
    let big = json!({ "padding": "x".repeat(4096) });

    let anonymous = app.post_json(&app.anonymous(), &path, &big).await;
    assert_eq!(anonymous.status(), 401);
    let oversized = app.post_json(&browser, &path, &big).await;
    assert_eq!(oversized.status(), 413);
    let body: Value = oversized.json().await.unwrap();
    assert_eq!(
        body["detail"],
        "El cuerpo de la petición es demasiado grande."
    );
    let status: Value = app.status(&browser, &id).await.json().await.unwrap();
    assert_eq!(status["payment_status"], "PENDING");

    assert_eq!(app.cancel(&browser, &id).await.status(), 200);
}

/// Stripe answering slowly must not take the API down with it: cancels
/// waiting on Stripe hold no database connection, and give Stripe up at
/// the interactive deadline, cancelling locally with the warning.
#[tokio::test]
async fn cancels_waiting_on_a_slow_stripe_leave_the_rest_of_the_api_working() {
    // Two connections per server thread: fewer than the cancels in flight.
    let app = spawn_app_with(Options {
        pool_size: 4,
        ..Options::default()
    })
    .await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(id_of(&app.paid_for_checkout(&browser, 1).await));
    }
    app.stripe.inject_fault(Fault {
        count: 100,
        status: None,
        retry_after: None,
        delay_ms: 60_000,
        path_prefix: Some("/v1/checkout/sessions/".into()),
        method: Some("POST".into()),
    });

    let started = std::time::Instant::now();
    let cancels = futures::future::join_all(ids.iter().map(|id| app.cancel(&browser, id)));
    let reads = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let mut statuses = Vec::new();
        for id in &ids {
            statuses.push(app.get(&browser, "/api/products/").await.status());
            statuses.push(app.status(&browser, id).await.status());
        }
        statuses
    };
    let (cancelled, reads) = tokio::join!(cancels, reads);

    assert!(reads.iter().all(|s| *s == 200), "{reads:?}");
    for response in cancelled {
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["payment_status"], "CANCELLED", "{body}");
        assert!(body["warning"].is_string(), "{body}");
    }
    let waited = started.elapsed();
    assert!(waited < std::time::Duration::from_secs(15), "{waited:?}");
    assert_eq!(app.units_sold().await, 0);
}
