//! Hostile input to the emulator's form decoder (issue 8, item 3): bodies
//! and query strings that are not UTF-8, nested too deep, absurdly
//! indexed, overflowing or oversized get Stripe's 4xx
//! (`{"error": {"type": "invalid_request_error", ...}}`), never a 5xx, a
//! hang or a dead server.

mod support;

use serde_json::Value;
use stripe_emulator::EmulatorConfig;
use support::{Api, KEY, Reply};

async fn post_bytes(api: &Api, path: &str, body: Vec<u8>, content_type: &str) -> Reply {
    let response = api
        .http
        .post(format!("{}{path}", api.base))
        .bearer_auth(KEY)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    Reply {
        status,
        headers,
        body: serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())),
    }
}

/// Refused with a 4xx; Stripe's JSON error unless the HTTP layer refused
/// the body before the emulator saw it (413, plain text).
fn assert_stripe_400(reply: &Reply, what: &str) {
    assert!(
        (400..500).contains(&reply.status),
        "{what}: {} {}",
        reply.status,
        reply.body
    );
    if reply.status == 413 {
        return;
    }
    assert_eq!(reply.status, 400, "{what}: {}", reply.body);
    assert_eq!(
        reply.body["error"]["type"], "invalid_request_error",
        "{what}: {}",
        reply.body
    );
    assert!(reply.body["error"]["message"].is_string(), "{what}");
}

/// Form bodies no Stripe client sends; each makes a session creation a 400.
fn hostile_forms() -> Vec<(&'static str, Vec<u8>)> {
    let deep = format!("{}=1", (0..2000).map(|_| "[a]").collect::<String>());
    let many: String = (0..20_000).map(|i| format!("metadata[k{i}]=v&")).collect();
    vec![
        (
            "a body that is not UTF-8",
            b"mode=payment&currency=\xff\xfe".to_vec(),
        ),
        (
            "a percent-encoded non-UTF-8 value",
            b"mode=%FF%FE%FD".to_vec(),
        ),
        (
            "brackets nested 2000 deep",
            format!("line_items{deep}").into_bytes(),
        ),
        (
            "an index past usize",
            b"line_items[184467440737095516150][quantity]=1".to_vec(),
        ),
        (
            "an overflowing integer",
            b"expires_at=99999999999999999999999999".to_vec(),
        ),
        (
            "a float where an integer goes",
            b"expires_at=1e308".to_vec(),
        ),
        ("a map where a string goes", b"mode[x][y]=1".to_vec()),
        (
            "unbalanced brackets",
            b"line_items[0[quantity]]]=1&[[=2".to_vec(),
        ),
        ("20000 parameters", many.into_bytes()),
        ("JSON instead of a form", br#"{"mode": "payment"}"#.to_vec()),
    ]
}

#[tokio::test]
async fn hostile_form_bodies_are_stripe_400s_and_the_emulator_keeps_serving() {
    let emulator = support::start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let session = api.create_session(&emulator).await;
    let id = session["id"].as_str().unwrap().to_owned();
    let intent = session["payment_intent"].as_str().map(str::to_owned);
    let mut paths = vec![
        "/v1/checkout/sessions".to_owned(),
        format!("/v1/checkout/sessions/{id}/expire"),
        "/v1/refunds".to_owned(),
    ];
    if let Some(intent) = intent {
        paths.push(format!("/v1/payment_intents/{intent}/cancel"));
    }
    // Endpoints that read few parameters may ignore the hostile ones
    // (an expiry with `mode=%FF` still expires), but none fails.
    for path in &paths {
        for (what, body) in hostile_forms() {
            let reply = post_bytes(&api, path, body, "application/x-www-form-urlencoded").await;
            assert!(
                reply.status < 500,
                "{path} with {what}: {} {}",
                reply.status,
                reply.body
            );
            if reply.status >= 400 {
                assert_stripe_400(&reply, &format!("{path} with {what}"));
            }
        }
    }
    // Creation refuses each of them with a 400 (nothing else is judged first).
    for (what, body) in hostile_forms() {
        let reply = post_bytes(
            &api,
            "/v1/checkout/sessions",
            body,
            "application/x-www-form-urlencoded",
        )
        .await;
        assert_stripe_400(&reply, what);
    }
    // Still serving.
    let again = api.get(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(again.status, 200);
}

#[tokio::test]
async fn hostile_query_strings_are_stripe_400s() {
    let emulator = support::start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let deep = (0..500).map(|_| "[x]").collect::<String>();
    for query in [
        "limit=99999999999999999999999".to_owned(),
        "limit=abc".to_owned(),
        "created[gte]=1e99".to_owned(),
        "created[gte][x][y]=1".to_owned(),
        format!("expand{deep}=1"),
        "status=%FF".to_owned(),
        "expand[99999999999999999999]=data".to_owned(),
    ] {
        let reply = api.get(&format!("/v1/checkout/sessions?{query}")).await;
        assert_stripe_400(&reply, &query);
    }
    let reply = api
        .get("/v1/checkout/sessions?limit=-5&created[lt]=-9223372036854775808")
        .await;
    assert!(reply.status < 500, "{}", reply.body);
}

#[tokio::test]
async fn an_oversized_form_body_is_refused_and_the_emulator_keeps_serving() {
    let emulator = support::start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let body = format!("mode=payment&metadata[x]={}", "a".repeat(8 * 1024 * 1024)).into_bytes();
    let reply = post_bytes(
        &api,
        "/v1/checkout/sessions",
        body,
        "application/x-www-form-urlencoded",
    )
    .await;
    assert!(
        (400..500).contains(&reply.status),
        "{} {}",
        reply.status,
        reply.body
    );
    api.create_session(&emulator).await;
}
