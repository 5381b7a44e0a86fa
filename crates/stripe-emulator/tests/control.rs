//! The `/_emulator` control endpoints' answers to bodies they cannot use.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use stripe_emulator::EmulatorConfig;
use support::*;

/// A control endpoint's 400: Stripe-shaped JSON whose message says what is
/// wrong.
fn assert_json_400(reply: &Reply, mentions: &str) {
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["error"]["type"], "invalid_request_error");
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(mentions), "{mentions}: {message}");
}

#[tokio::test]
async fn malformed_control_bodies_get_a_json_error_saying_what_is_wrong() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let cases: [(&str, Value, &str); 5] = [
        ("/faults", json!({"count": -1}), "integer `-1`"),
        ("/clock/advance", json!({}), "missing field `seconds`"),
        ("/webhooks/mode", json!({"drop_next": -1}), "integer `-1`"),
        (
            "/webhooks/endpoints",
            json!({"link": "http://x/"}),
            "missing field `url`",
        ),
        (
            "/sessions/bulk",
            json!({"sessions": 3}),
            "expected a sequence",
        ),
    ];
    for (path, body, mentions) in cases {
        let reply = api.control(Method::POST, path, Some(body)).await;
        assert_json_400(&reply, mentions);
    }

    let not_json = api
        .http
        .post(format!("{}/_emulator/clock/advance", api.base))
        .body("seconds=5")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status().as_u16(), 400);
    let body: Value = not_json.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("application/json")
    );
}

#[tokio::test]
async fn a_malformed_pay_body_is_refused_instead_of_paying() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let id = api.create_session_id(&emulator).await;

    let reply = api
        .control(
            Method::POST,
            &format!("/sessions/{id}/pay"),
            Some(json!({"outcome": 5})),
        )
        .await;

    assert_json_400(&reply, "integer `5`");
    let session = api.get(&format!("/v1/checkout/sessions/{id}")).await.body;
    assert_eq!(session["payment_status"], "unpaid");
    let paid = api
        .control(Method::POST, &format!("/sessions/{id}/pay"), None)
        .await;
    assert_eq!(paid.body["payment_status"], "paid", "no body still pays");
}

#[tokio::test]
async fn a_fault_must_answer_with_an_error_status() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);

    for status in [200, 302, 600] {
        let reply = api
            .control(Method::POST, "/faults", Some(json!({"status": status})))
            .await;
        assert_json_400(&reply, "400 to 599");
        assert_eq!(reply.body["error"]["param"], "status");
    }

    let pending = api.control(Method::GET, "/faults", None).await;
    assert_eq!(pending.body, json!([]));
    assert_eq!(api.get("/v1/checkout/sessions").await.status, 200);
}

#[tokio::test]
async fn webhook_endpoints_must_be_http_urls_as_at_start_up() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);

    for url in ["ftp://x", "notaurl", "https://example.test/hook"] {
        let reply = api
            .control(
                Method::POST,
                "/webhooks/endpoints",
                Some(json!({"url": url})),
            )
            .await;
        assert_json_400(&reply, url);
        assert_eq!(reply.body["error"]["param"], "url");
    }
    let added = api
        .control(
            Method::POST,
            "/webhooks/endpoints",
            Some(json!({"url": "http://127.0.0.1:9/hook"})),
        )
        .await;
    assert_eq!(added.body, json!(["http://127.0.0.1:9/hook"]));
}

#[tokio::test]
async fn the_emulator_does_not_start_with_a_bad_webhook_url() {
    let refused =
        stripe_emulator::Emulator::start(EmulatorConfig::for_tests().with_webhook_url("notaurl"))
            .await;

    let message = refused.err().expect("refused").to_string();
    assert!(
        message.starts_with("--webhook-url / EMULATOR_WEBHOOK_URLS: 'notaurl'"),
        "{message}"
    );
}
