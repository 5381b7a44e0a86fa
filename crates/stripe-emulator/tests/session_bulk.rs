//! `POST /_emulator/sessions/bulk`: sessions loaded in bulk answer the
//! `/v1` API like created ones, without emitting events.

mod support;

use reqwest::Method;
use serde_json::json;
use stripe_emulator::EmulatorConfig;
use support::*;

#[tokio::test]
async fn bulk_loaded_sessions_can_be_retrieved_and_expired_over_the_api() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let now = emulator.now();
    let loaded = api
        .control(
            Method::POST,
            "/sessions/bulk",
            Some(json!({"sessions": [
                {"id": "cs_test_bench_open", "amount_total": 4200, "currency": "USD",
                 "expires_at": now + 3600, "metadata": {"payment_id": "p1"}},
                {"id": "cs_test_bench_gone", "amount_total": 999, "currency": "usd",
                 "expires_at": now - 60, "status": "expired"},
            ]})),
        )
        .await;
    assert_eq!(loaded.status, 200, "{}", loaded.body);
    assert_eq!(loaded.body, json!({"loaded": 2, "total": 2}));

    let open = api.get("/v1/checkout/sessions/cs_test_bench_open").await;
    assert_eq!(open.status, 200, "{}", open.body);
    assert_eq!(open.body["status"], "open");
    assert_eq!(open.body["payment_status"], "unpaid");
    assert_eq!(open.body["amount_total"], 4200);
    assert_eq!(open.body["currency"], "usd");
    assert_eq!(open.body["expires_at"], now + 3600);
    assert_eq!(open.body["metadata"]["payment_id"], "p1");

    let gone = api.get("/v1/checkout/sessions/cs_test_bench_gone").await;
    assert_eq!(gone.body["status"], "expired");
    assert!(gone.body["url"].is_null());

    let expired = api
        .post("/v1/checkout/sessions/cs_test_bench_open/expire", "", None)
        .await;
    assert_eq!(expired.status, 200, "{}", expired.body);
    assert_eq!(expired.body["status"], "expired");
    let events = emulator.events();
    assert_eq!(events.len(), 1, "loading emits nothing, expiring one event");
    assert_eq!(events[0]["type"], "checkout.session.expired");
}

#[tokio::test]
async fn a_bulk_load_with_a_bad_or_known_session_loads_nothing() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let existing = api.create_session(&emulator).await;
    let now = emulator.now();
    for (sessions, param) in [
        (
            json!([{"id": "cs_test_new", "amount_total": 1, "currency": "usd", "expires_at": now},
                   {"id": existing["id"], "amount_total": 1, "currency": "usd", "expires_at": now}]),
            "sessions[1][id]",
        ),
        (
            json!([{"id": "cs_test_twice", "amount_total": 1, "currency": "usd", "expires_at": now},
                   {"id": "cs_test_twice", "amount_total": 1, "currency": "usd", "expires_at": now}]),
            "sessions[1][id]",
        ),
        (
            json!([{"id": "cs_test_paid", "amount_total": 1, "currency": "usd", "expires_at": now,
                    "status": "complete"}]),
            "sessions[0][status]",
        ),
        (
            json!([{"id": "cs_test_neg", "amount_total": -1, "currency": "usd", "expires_at": now}]),
            "sessions[0][amount_total]",
        ),
    ] {
        let reply = api
            .control(
                Method::POST,
                "/sessions/bulk",
                Some(json!({ "sessions": sessions })),
            )
            .await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.body["error"]["param"], param, "{}", reply.body);
    }
    let listed = api.get("/v1/checkout/sessions?limit=100").await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        api.get("/v1/checkout/sessions/cs_test_new").await.status,
        404
    );
}
