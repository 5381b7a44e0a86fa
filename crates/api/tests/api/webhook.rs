//! `POST /api/payments/webhook/`: signature, storage, dedupe, Redis down.

use crate::helpers::{
    DEAD_REDIS_URL, Options, TestApp, WEBHOOK_SECRET, now, session_event, spawn_app, spawn_app_with,
};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::models::stripe_event::StoredEvent;
use domain::schema::{stripe_events, task_records};
use serde_json::{Value, json};
use stripe_client::webhook::StripeEventParser as Parser;

fn event(id: &str) -> Value {
    session_event(
        id,
        "checkout.session.expired",
        &json!({ "id": "cs_test_unknown", "object": "checkout.session", "status": "expired",
                 "payment_status": "unpaid", "expires_at": now(), "metadata": {} }),
    )
}

async fn stored_events(app: &TestApp) -> i64 {
    stripe_events::table
        .count()
        .get_result(&mut *app.db.conn().await)
        .await
        .unwrap()
}

async fn task_count(app: &TestApp) -> i64 {
    task_records::table
        .count()
        .get_result(&mut *app.db.conn().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_bad_signature_is_400_and_nothing_is_stored() {
    let app = spawn_app().await;
    let response = app.webhook(&event("evt_bad"), "whsec_wrong", now()).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"], "Firma no válida");
    assert_eq!(stored_events(&app).await, 0);
    let metrics = reqwest::get(format!("{}/metrics", app.address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("payments_webhook_signature_failures_total"));
}

#[tokio::test]
async fn a_stale_signature_is_400() {
    let app = spawn_app().await;
    let response = app
        .webhook(&event("evt_old"), WEBHOOK_SECRET, now() - 600)
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(stored_events(&app).await, 0);
}

#[tokio::test]
async fn a_missing_signature_is_400() {
    let app = spawn_app().await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/payments/webhook/", app.address))
        .json(&event("evt_unsigned"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_valid_event_is_stored_and_its_job_enqueued() {
    let app = spawn_app().await;
    let response = app.webhook(&event("evt_1"), WEBHOOK_SECRET, now()).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "received": true }));
    let stored = StoredEvent::find(&mut *app.db.conn().await, "evt_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.event_type, "checkout.session.expired");
    assert!(stored.processed_at.is_none(), "the worker processes it");
    let job: String = task_records::table
        .select(task_records::job_name)
        .first(&mut *app.db.conn().await)
        .await
        .unwrap();
    assert_eq!(job, "checkout_session_expired");
}

#[tokio::test]
async fn a_duplicate_delivered_concurrently_is_stored_and_enqueued_once() {
    let app = spawn_app().await;
    let payload = event("evt_dup");
    let deliveries = (0..8).map(|_| app.webhook(&payload, WEBHOOK_SECRET, now()));
    let responses = futures::future::join_all(deliveries).await;
    let mut duplicates = 0;
    for response in responses {
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        if body["duplicate"] == true {
            duplicates += 1;
        }
    }
    assert_eq!(duplicates, 7);
    assert_eq!(stored_events(&app).await, 1);
    assert_eq!(task_count(&app).await, 1);
}

#[tokio::test]
async fn with_redis_down_the_event_is_still_stored_and_acknowledged() {
    let app = spawn_app_with(Options {
        redis_url: DEAD_REDIS_URL.into(),
        ..Options::default()
    })
    .await;
    let response = app
        .webhook(&event("evt_no_redis"), WEBHOOK_SECRET, now())
        .await;
    assert_eq!(response.status(), 200);
    let stored = StoredEvent::find(&mut *app.db.conn().await, "evt_no_redis")
        .await
        .unwrap();
    assert!(
        stored.is_some_and(|e| e.processed_at.is_none()),
        "stored, waiting for the sweep"
    );
}

#[tokio::test]
async fn an_event_stored_while_redis_was_down_is_processed_later_by_the_sweep() {
    let app = spawn_app_with(Options {
        redis_url: DEAD_REDIS_URL.into(),
        ..Options::default()
    })
    .await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let checkout = app.paid_for_checkout(&browser, 2).await;
    let session_id = checkout["session_id"].as_str().unwrap();
    app.stripe.expire_session(session_id).unwrap();
    let event = app
        .stripe
        .events()
        .into_iter()
        .find(|e| {
            e["type"] == "checkout.session.expired" && e["data"]["object"]["id"] == session_id
        })
        .unwrap();
    let response = app.webhook(&event, WEBHOOK_SECRET, now()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.units_sold().await, 2, "not processed yet");
    // The worker's sweep picks up stored events that were never processed.
    let mut opts = domain::services::SweepOptions::new(domain::jobs::SweepTrigger::Oneoff);
    opts.event_grace = std::time::Duration::ZERO;
    let stripe = crate::helpers::gateway(app.stripe.base_url());
    let report = domain::services::run_sweep(app.db.pool(), stripe.as_ref(), &Parser, &opts, None)
        .await
        .unwrap();
    assert!(report.events_processed >= 1, "{report:?}");
    let stored = StoredEvent::find(&mut *app.db.conn().await, event["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.processed_at.is_some());
    assert_eq!(app.units_sold().await, 0);
    let status: Value = app
        .status(&browser, checkout["payment_id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["payment_status"], "CANCELLED");
}

#[tokio::test]
async fn events_delivered_by_the_emulator_are_verified_stored_and_on_the_timeline() {
    let app = spawn_app().await;
    app.stripe
        .add_webhook_url(format!("{}/api/payments/webhook/", app.address));
    let user = app.create_user("ana@example.com", false).await;
    let boss = app.create_user("boss@example.com", true).await;
    let browser = app.browser(&user).await;
    let checkout = app.paid_for_checkout(&browser, 1).await;
    app.stripe
        .pay_session(
            checkout["session_id"].as_str().unwrap(),
            stripe_emulator::PayOutcome::Succeed,
        )
        .unwrap();
    let mut completed = None;
    for _ in 0..100 {
        let found: Option<String> = stripe_events::table
            .filter(stripe_events::event_type.eq("checkout.session.completed"))
            .select(stripe_events::id)
            .first(&mut *app.db.conn().await)
            .await
            .optional()
            .unwrap();
        if found.is_some() {
            completed = found;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let event_id = completed.expect("the emulator's signed delivery was accepted and stored");
    let path = format!(
        "/api/payments/{}/timeline/",
        checkout["payment_id"].as_str().unwrap()
    );
    let timeline: Value = app
        .get(&app.browser(&boss).await, &path)
        .await
        .json()
        .await
        .unwrap();
    let entries = timeline["timeline"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["kind"] == "stripe_event" && e["event_id"] == event_id.as_str()),
        "{timeline}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["kind"] == "task" && e["job"] == "checkout_session_completed")
    );
}

#[tokio::test]
async fn an_oversized_webhook_is_413() {
    let app = spawn_app().await;
    let mut payload = event("evt_huge");
    payload["padding"] = Value::String("x".repeat(2 * 1024 * 1024));
    let response = app.webhook(&payload, WEBHOOK_SECRET, now()).await;
    assert_eq!(response.status(), 413);
    assert_eq!(stored_events(&app).await, 0);
}

/// The event as the route left it when Redis was down: stored, its job
/// never enqueued.
async fn stored_but_never_enqueued(app: &TestApp, payload: &Value) {
    let id = payload["id"].as_str().unwrap();
    let kind = payload["type"].as_str().unwrap();
    let mut conn = app.db.conn().await;
    StoredEvent::store(&mut conn, id, kind, payload)
        .await
        .unwrap();
    StoredEvent::release_enqueue(&mut conn, id).await.unwrap();
}

#[tokio::test]
async fn a_redelivery_enqueues_an_event_that_never_reached_the_queue_once() {
    let app = spawn_app().await;
    let payload = event("evt_missed_queue");
    stored_but_never_enqueued(&app, &payload).await;

    let deliveries = (0..4).map(|_| app.webhook(&payload, WEBHOOK_SECRET, now()));
    let responses = futures::future::join_all(deliveries).await;

    for response in responses {
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "received": true, "duplicate": true }));
    }
    assert_eq!(task_count(&app).await, 1, "one job for four redeliveries");
    let job: String = task_records::table
        .select(task_records::job_name)
        .first(&mut *app.db.conn().await)
        .await
        .unwrap();
    assert_eq!(job, "checkout_session_expired");
}

#[tokio::test]
async fn a_redelivery_of_a_processed_event_enqueues_nothing() {
    let app = spawn_app().await;
    let payload = event("evt_done");
    stored_but_never_enqueued(&app, &payload).await;
    StoredEvent::mark_processed(&mut *app.db.conn().await, "evt_done", None)
        .await
        .unwrap();

    let response = app.webhook(&payload, WEBHOOK_SECRET, now()).await;

    assert_eq!(response.status(), 200);
    assert_eq!(task_count(&app).await, 0);
}

#[tokio::test]
async fn with_redis_down_the_event_stays_enqueueable_by_a_redelivery() {
    let app = spawn_app_with(Options {
        redis_url: DEAD_REDIS_URL.into(),
        ..Options::default()
    })
    .await;
    let payload = event("evt_redis_down");

    let response = app.webhook(&payload, WEBHOOK_SECRET, now()).await;

    assert_eq!(response.status(), 200);
    let enqueued_at: Option<time::OffsetDateTime> = stripe_events::table
        .find("evt_redis_down")
        .select(stripe_events::enqueued_at)
        .first(&mut *app.db.conn().await)
        .await
        .unwrap();
    assert_eq!(enqueued_at, None, "the claim is given back");
}
