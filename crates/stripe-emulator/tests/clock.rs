//! Sessions expire by themselves once the emulator's clock passes
//! `expires_at`.

mod support;

use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use stripe_emulator::EmulatorConfig;
use support::*;

#[tokio::test]
async fn advancing_the_clock_past_expires_at_expires_the_session() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let session = api.create_session(&emulator).await;
    let id = session["id"].as_str().unwrap();

    let early = api
        .control(
            Method::POST,
            "/clock/advance",
            Some(json!({"seconds": 3500})),
        )
        .await;
    assert_eq!(early.body["expired"], json!([]));
    assert_eq!(
        api.get(&format!("/v1/checkout/sessions/{id}")).await.body["status"],
        "open"
    );

    let due = api
        .control(
            Method::POST,
            "/clock/advance",
            Some(json!({"seconds": 100})),
        )
        .await;
    assert_eq!(due.body["expired"], json!([id]));
    let after = api.get(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(after.body["status"], "expired");
    assert_eq!(after.body["url"], json!(null));

    let events = api.control(Method::GET, "/events", None).await.body;
    assert_eq!(events.as_array().unwrap().len(), 1);
    assert_eq!(events[0]["type"], "checkout.session.expired");
    assert_eq!(events[0]["data"]["object"]["id"], id);
    assert_eq!(
        events[0]["created"], due.body["now"],
        "created on the emulator's clock"
    );

    let backwards = api
        .control(Method::POST, "/clock/advance", Some(json!({"seconds": -5})))
        .await;
    assert_eq!(backwards.status, 400);
}

#[tokio::test]
async fn the_background_tick_expires_sessions_without_any_request() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let session = api.create_session(&emulator).await;
    let id = session["id"].as_str().unwrap();

    // Two seconds of real time short of expires_at: nothing due yet.
    let remaining = session["expires_at"].as_i64().unwrap() - emulator.now();
    assert!(emulator.advance_clock(remaining - 2).is_empty());
    assert_eq!(
        api.get(&format!("/v1/checkout/sessions/{id}")).await.body["status"],
        "open"
    );

    let expired = eventually(Duration::from_secs(4), || {
        emulator
            .events()
            .iter()
            .any(|e| e["type"] == "checkout.session.expired" && e["data"]["object"]["id"] == id)
    })
    .await;
    assert!(
        expired,
        "the background tick expires the session once real time catches up"
    );
    assert_eq!(
        api.get(&format!("/v1/checkout/sessions/{id}")).await.body["status"],
        "expired"
    );
}
