//! Signed webhook delivery, retries and the misbehaviour modes.

mod support;

use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use stripe_emulator::EmulatorConfig;
use support::*;

const WAIT: Duration = Duration::from_secs(3);

fn signed_correctly(received: &Received) -> bool {
    let t: i64 = received
        .signature
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .unwrap()
        .parse()
        .unwrap();
    stripe_emulator::sign(received.body.as_bytes(), SECRET, t) == received.signature
}

async fn expire_sessions(
    api: &Api,
    emulator: &stripe_emulator::EmulatorHandle,
    n: usize,
) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let id = api.create_session(emulator).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        api.control(Method::POST, &format!("/sessions/{id}/expire"), None)
            .await;
        ids.push(id);
    }
    ids
}

fn session_ids(receiver: &Receiver) -> Vec<String> {
    receiver
        .received()
        .iter()
        .map(|r| {
            r.event()["data"]["object"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn webhooks_are_retried_until_a_2xx() {
    let receiver = Receiver::start(2).await;
    let emulator = start(EmulatorConfig::for_tests().with_webhook_url(&receiver.url)).await;
    let api = Api::new(&emulator);

    let ids = expire_sessions(&api, &emulator, 1).await;

    assert!(
        eventually(WAIT, || receiver.received().len() == 3).await,
        "{:?}",
        receiver.received()
    );
    let received = receiver.received();
    assert!(received.iter().all(signed_correctly));
    assert!(
        received
            .iter()
            .all(|r| r.event()["type"] == "checkout.session.expired")
    );
    let event_ids = receiver.event_ids();
    assert!(
        event_ids.iter().all(|id| id == &event_ids[0]),
        "the same event each time"
    );
    assert_eq!(session_ids(&receiver), vec![ids[0].clone(); 3]);
    // The receiver sees the third request before the emulator has read
    // its answer and logged the attempt.
    let deadline = std::time::Instant::now() + WAIT;
    let attempts = loop {
        let attempts = delivery_attempts(&api).await;
        if attempts.len() >= 3 || std::time::Instant::now() > deadline {
            break attempts;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        attempts,
        vec![(1, 500, false), (2, 500, false), (3, 200, true)]
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 3, "no delivery after the 2xx");
}

#[tokio::test]
async fn delivery_gives_up_after_the_configured_attempts() {
    let receiver = Receiver::start(usize::MAX).await;
    let config = EmulatorConfig {
        webhook_max_attempts: 3,
        ..EmulatorConfig::for_tests()
    };
    let emulator = start(config.with_webhook_url(&receiver.url)).await;
    let api = Api::new(&emulator);

    expire_sessions(&api, &emulator, 1).await;

    assert!(eventually(WAIT, || receiver.received().len() == 3).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 3);
    assert!(emulator.deliveries().iter().all(|d| !d.delivered));
}

#[tokio::test]
async fn duplicate_mode_delivers_every_event_twice() {
    let receiver = Receiver::start(0).await;
    let emulator = start(EmulatorConfig::for_tests().with_webhook_url(&receiver.url)).await;
    let api = Api::new(&emulator);
    api.control(
        Method::POST,
        "/webhooks/mode",
        Some(json!({"duplicate": true})),
    )
    .await;

    let ids = expire_sessions(&api, &emulator, 2).await;

    assert!(
        eventually(WAIT, || receiver.received().len() == 4).await,
        "{:?}",
        receiver.received()
    );
    assert_eq!(
        session_ids(&receiver),
        vec![
            ids[0].clone(),
            ids[0].clone(),
            ids[1].clone(),
            ids[1].clone()
        ]
    );
    let event_ids = receiver.event_ids();
    assert_eq!(
        event_ids[0], event_ids[1],
        "a duplicate carries the same event id"
    );
    assert_ne!(event_ids[1], event_ids[2]);
}

#[tokio::test]
async fn reorder_mode_holds_a_batch_and_delivers_it_newest_first() {
    let receiver = Receiver::start(0).await;
    let emulator = start(EmulatorConfig::for_tests().with_webhook_url(&receiver.url)).await;
    let api = Api::new(&emulator);
    api.control(
        Method::POST,
        "/webhooks/mode",
        Some(json!({"reorder_batch": 3})),
    )
    .await;

    let ids = expire_sessions(&api, &emulator, 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        receiver.received().is_empty(),
        "held until the batch is full"
    );
    let third = expire_sessions(&api, &emulator, 1).await;

    assert!(eventually(WAIT, || receiver.received().len() == 3).await);
    assert_eq!(
        session_ids(&receiver),
        vec![third[0].clone(), ids[1].clone(), ids[0].clone()]
    );

    // A partial batch goes out on flush, newest first too.
    let more = expire_sessions(&api, &emulator, 2).await;
    let flushed = api.control(Method::POST, "/webhooks/flush", None).await;
    assert_eq!(flushed.body["flushed"], 2);
    assert!(eventually(WAIT, || receiver.received().len() == 5).await);
    assert_eq!(
        session_ids(&receiver)[3..],
        [more[1].clone(), more[0].clone()]
    );
}

#[tokio::test]
async fn drop_mode_skips_the_next_n_events() {
    let receiver = Receiver::start(0).await;
    let emulator = start(EmulatorConfig::for_tests().with_webhook_url(&receiver.url)).await;
    let api = Api::new(&emulator);
    api.control(
        Method::POST,
        "/webhooks/mode",
        Some(json!({"drop_next": 2})),
    )
    .await;

    let ids = expire_sessions(&api, &emulator, 3).await;

    assert!(eventually(WAIT, || receiver.received().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(session_ids(&receiver), vec![ids[2].clone()]);
    let dropped = emulator.deliveries().iter().filter(|d| d.dropped).count();
    assert_eq!(dropped, 2);
    assert_eq!(
        api.control(Method::GET, "/webhooks/mode", None).await.body["drop_next"],
        0
    );
}

#[tokio::test]
async fn an_endpoint_added_at_run_time_receives_later_events() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    expire_sessions(&api, &emulator, 1).await;
    let receiver = Receiver::start(0).await;

    let added = api
        .control(
            Method::POST,
            "/webhooks/endpoints",
            Some(json!({"url": receiver.url})),
        )
        .await;
    assert_eq!(added.body, json!([receiver.url]));
    let ids = expire_sessions(&api, &emulator, 1).await;

    assert!(eventually(WAIT, || receiver.received().len() == 1).await);
    assert_eq!(session_ids(&receiver), ids);
    assert!(signed_correctly(&receiver.received()[0]));
}

/// `(attempt, status, delivered)` of every delivery attempt logged so far.
async fn delivery_attempts(api: &Api) -> Vec<(u64, u64, bool)> {
    let log = api
        .control(Method::GET, "/webhooks/deliveries", None)
        .await
        .body;
    log.as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["attempt"].as_u64().unwrap(),
                d["status"].as_u64().unwrap(),
                d["delivered"].as_bool().unwrap(),
            )
        })
        .collect()
}
