//! The `/v1` API over HTTP: auth, validation, idempotency, listing, expiry,
//! faults.

mod support;

use reqwest::Method;
use serde_json::json;
use stripe_emulator::EmulatorConfig;
use support::*;

#[tokio::test]
async fn requests_without_a_valid_key_get_a_stripe_shaped_401() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);

    let missing = api
        .http
        .get(format!("{}/v1/checkout/sessions", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 401);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not provide an API key")
    );

    let wrong = api
        .http
        .get(format!("{}/v1/checkout/sessions", api.base))
        .bearer_auth("pk_test_publishable_key_1234")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let body: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "Invalid API Key provided: pk_test_****1234"
    );
}

#[tokio::test]
async fn a_configured_api_key_is_the_only_one_accepted() {
    let emulator = start(EmulatorConfig {
        api_key: Some(KEY.into()),
        ..EmulatorConfig::for_tests()
    })
    .await;
    let api = Api::new(&emulator);
    assert_eq!(api.get("/v1/checkout/sessions").await.status, 200);
    let other = api
        .http
        .get(format!("{}/v1/checkout/sessions", api.base))
        .bearer_auth("sk_test_other")
        .send()
        .await;
    assert_eq!(other.unwrap().status().as_u16(), 401);
}

#[tokio::test]
async fn the_key_may_come_as_http_basic_auth_as_in_stripes_curl_examples() {
    let emulator = start(EmulatorConfig {
        api_key: Some(KEY.into()),
        ..EmulatorConfig::for_tests()
    })
    .await;
    let api = Api::new(&emulator);
    let status = |user: &'static str| {
        api.http
            .get(format!("{}/v1/checkout/sessions", api.base))
            .basic_auth(user, None::<&str>)
            .send()
    };
    assert_eq!(status(KEY).await.unwrap().status().as_u16(), 200);
    assert_eq!(
        status("sk_test_other").await.unwrap().status().as_u16(),
        401
    );
    assert_eq!(status("").await.unwrap().status().as_u16(), 401);
}

#[tokio::test]
async fn creating_a_session_validates_its_parameters() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);

    let no_lines = api
        .post("/v1/checkout/sessions", "mode=payment", None)
        .await;
    assert_eq!(no_lines.status, 400);
    assert_eq!(no_lines.body["error"]["code"], "parameter_missing");
    assert_eq!(no_lines.body["error"]["param"], "line_items");

    let too_late = api
        .post(
            "/v1/checkout/sessions",
            &session_form(emulator.now() + 25 * 3600),
            None,
        )
        .await;
    assert_eq!(too_late.status, 400);
    assert_eq!(too_late.body["error"]["param"], "expires_at");

    let too_soon = api
        .post(
            "/v1/checkout/sessions",
            &session_form(emulator.now() + 60),
            None,
        )
        .await;
    assert_eq!(too_soon.status, 400);

    let created = api.create_session(&emulator).await;
    assert_eq!(created["object"], "checkout.session");
    assert_eq!(created["amount_total"], 2500);
    assert_eq!(created["status"], "open");
    assert_eq!(created["payment_intent"], json!(null));
    assert_eq!(created["metadata"]["payment_id"], "pay_1");
    let url = created["url"].as_str().unwrap();
    assert_eq!(
        url,
        format!(
            "{}/pay/{}",
            emulator.base_url(),
            created["id"].as_str().unwrap()
        )
    );
}

#[tokio::test]
async fn the_same_idempotency_key_replays_and_other_parameters_conflict() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let form = session_form(emulator.now() + 3600);

    let first = api
        .post("/v1/checkout/sessions", &form, Some("key-1"))
        .await;
    let second = api
        .post("/v1/checkout/sessions", &form, Some("key-1"))
        .await;
    assert_eq!(first.status, 200);
    assert_eq!(second.body, first.body);
    assert_eq!(second.headers["idempotent-replayed"], "true");

    let other = api
        .post(
            "/v1/checkout/sessions",
            &session_form(emulator.now() + 7200),
            Some("key-1"),
        )
        .await;
    assert_eq!(other.status, 400);
    assert_eq!(other.body["error"]["type"], "idempotency_error");

    let listed = api.get("/v1/checkout/sessions").await;
    assert_eq!(
        listed.body["data"].as_array().unwrap().len(),
        1,
        "one session for one key"
    );
    let keys = api.control(Method::GET, "/idempotency-keys", None).await;
    let keys: Vec<&str> = keys
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["key-1", "key-1", "key-1"]);
}

#[tokio::test]
async fn a_request_that_fails_validation_saves_nothing_under_its_key() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);

    let invalid = api
        .post("/v1/checkout/sessions", "mode=payment", Some("key-v"))
        .await;
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.body["error"]["code"], "parameter_missing");

    // The corrected retry under the same key runs, and is what the key keeps.
    let form = session_form(emulator.now() + 3600);
    let corrected = api
        .post("/v1/checkout/sessions", &form, Some("key-v"))
        .await;
    assert_eq!(corrected.status, 200, "{}", corrected.body);
    assert!(corrected.headers.get("idempotent-replayed").is_none());
    let again = api
        .post("/v1/checkout/sessions", &form, Some("key-v"))
        .await;
    assert_eq!(again.body, corrected.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");

    // Nor is a form that cannot be read, or a request no endpoint took.
    let unreadable = api.post("/v1/refunds", "amount[x]=1", Some("key-u")).await;
    assert_eq!(unreadable.status, 400);
    let missing = api.post("/v1/refunds", "", Some("key-u")).await;
    assert_eq!(missing.body["error"]["code"], "parameter_missing");
    for _ in 0..2 {
        let nowhere = api.post("/v1/nowhere", "", Some("key-n")).await;
        assert_eq!(nowhere.status, 404);
        assert!(nowhere.headers.get("idempotent-replayed").is_none());
    }
}

#[tokio::test]
async fn an_error_raised_while_executing_is_saved_under_its_key() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let id = api.create_session_id(&emulator).await;
    let expire = format!("/v1/checkout/sessions/{id}/expire");
    assert_eq!(api.post(&expire, "", None).await.status, 200);

    let refused = api.post(&expire, "", Some("key-e")).await;
    assert_eq!(refused.status, 400);
    let replayed = api.post(&expire, "", Some("key-e")).await;
    assert_eq!(replayed.status, 400);
    assert_eq!(replayed.body, refused.body);
    assert_eq!(replayed.headers["idempotent-replayed"], "true");
}

#[tokio::test]
async fn an_injected_fault_saves_nothing_under_its_key() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let form = session_form(emulator.now() + 3600);
    for status in [500, 429] {
        api.control(
            Method::POST,
            "/faults",
            Some(json!({"status": status, "method": "POST"})),
        )
        .await;
        let injected = api
            .post("/v1/checkout/sessions", &form, Some("key-f"))
            .await;
        assert_eq!(injected.status, status);
    }

    let executed = api
        .post("/v1/checkout/sessions", &form, Some("key-f"))
        .await;
    assert_eq!(executed.status, 200, "{}", executed.body);
    assert!(executed.headers.get("idempotent-replayed").is_none());
    assert_eq!(
        api.get("/v1/checkout/sessions").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn the_same_parameters_in_another_order_or_encoding_replay() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let form = session_form(emulator.now() + 3600);
    let first = api
        .post("/v1/checkout/sessions", &form, Some("key-o"))
        .await;
    assert_eq!(first.status, 200, "{}", first.body);

    let reordered: Vec<&str> = form.split('&').rev().collect();
    let reordered = reordered.join("&");
    let encoded = form.replace('[', "%5B").replace(']', "%5D");
    for same in [reordered, encoded] {
        let replay = api
            .post("/v1/checkout/sessions", &same, Some("key-o"))
            .await;
        assert_eq!(replay.status, 200, "{same}: {}", replay.body);
        assert_eq!(replay.body, first.body, "{same}");
        assert_eq!(replay.headers["idempotent-replayed"], "true", "{same}");
    }

    let other = form.replace("line_items[0][quantity]=2", "line_items[0][quantity]=3");
    assert_ne!(other, form);
    let conflict = api
        .post("/v1/checkout/sessions", &other, Some("key-o"))
        .await;
    assert_eq!(conflict.status, 400);
    assert_eq!(conflict.body["error"]["type"], "idempotency_error");
    assert_eq!(
        api.get("/v1/checkout/sessions").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn lists_are_newest_first_and_paginate_with_has_more() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(api.create_session_id(&emulator).await);
    }
    api.post(
        &format!("/v1/checkout/sessions/{}/expire", ids[0]),
        "",
        None,
    )
    .await;

    let page = api.get("/v1/checkout/sessions?status=open&limit=2").await;
    assert_eq!(page.body["object"], "list");
    assert_eq!(page.body["has_more"], true);
    let first: Vec<&str> = page.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(first, vec![ids[4].as_str(), ids[3].as_str()]);

    let rest = api
        .get(&format!(
            "/v1/checkout/sessions?status=open&limit=2&starting_after={}",
            ids[3]
        ))
        .await;
    let second: Vec<&str> = rest.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(second, vec![ids[2].as_str(), ids[1].as_str()]);
    assert_eq!(rest.body["has_more"], false);

    let expired = api.get("/v1/checkout/sessions?status=expired").await;
    assert_eq!(expired.body["data"][0]["id"], ids[0]);
    let future = api
        .get(&format!(
            "/v1/checkout/sessions?created%5Bgt%5D={}",
            emulator.now() + 10
        ))
        .await;
    assert_eq!(future.body["data"], json!([]));
    assert_eq!(api.get("/v1/checkout/sessions?limit=101").await.status, 400);
}

fn listed_ids(reply: &Reply) -> Vec<String> {
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn ending_before_pages_backwards() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let mut ids = Vec::new();
    for _ in 0..5 {
        let session = api.create_session(&emulator).await;
        ids.push(session["id"].as_str().unwrap().to_owned());
    }
    // Listed newest first: ids[4], ids[3], ids[2], ids[1], ids[0].

    let before = |cursor: &str| format!("/v1/checkout/sessions?limit=2&ending_before={cursor}");
    let page = api.get(&before(&ids[1])).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(listed_ids(&page), vec![ids[3].clone(), ids[2].clone()]);
    assert_eq!(page.body["has_more"], true, "ids[4] is still before it");

    let newest = api.get(&before(&ids[3])).await;
    assert_eq!(listed_ids(&newest), vec![ids[4].clone()]);
    assert_eq!(newest.body["has_more"], false);
    let none = api.get(&before(&ids[4])).await;
    assert_eq!(listed_ids(&none), Vec::<String>::new());
    assert_eq!(none.body["has_more"], false);

    // With a filter, the cursor keeps its place even when filtered out.
    api.post(
        &format!("/v1/checkout/sessions/{}/expire", ids[2]),
        "",
        None,
    )
    .await;
    let open = api
        .get(&format!(
            "/v1/checkout/sessions?status=open&limit=2&ending_before={}",
            ids[2]
        ))
        .await;
    assert_eq!(listed_ids(&open), vec![ids[4].clone(), ids[3].clone()]);
    assert_eq!(open.body["has_more"], false);
}

#[tokio::test]
async fn list_cursors_must_name_a_known_session_and_only_one_may_be_given() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let id = api.create_session_id(&emulator).await;

    let unknown = api
        .get("/v1/checkout/sessions?ending_before=cs_test_nope")
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.body["error"]["param"], "ending_before");
    let both = api
        .get(&format!(
            "/v1/checkout/sessions?ending_before={id}&starting_after={id}"
        ))
        .await;
    assert_eq!(both.status, 400);
    assert_eq!(both.body["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn retrieve_expands_the_payment_intent_on_request() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let id = api.create_session_id(&emulator).await;
    api.control(
        Method::POST,
        &format!("/sessions/{id}/pay"),
        Some(json!({"outcome": "paid"})),
    )
    .await;

    let plain = api.get(&format!("/v1/checkout/sessions/{id}")).await;
    assert!(
        plain.body["payment_intent"]
            .as_str()
            .unwrap()
            .starts_with("pi_")
    );
    let expanded = api
        .get(&format!(
            "/v1/checkout/sessions/{id}?expand[0]=payment_intent"
        ))
        .await;
    assert_eq!(expanded.body["payment_intent"]["object"], "payment_intent");
    assert_eq!(expanded.body["payment_intent"]["status"], "succeeded");
    assert_eq!(
        expanded.body["payment_intent"]["metadata"]["payment_id"],
        "pay_1"
    );

    let missing = api.get("/v1/checkout/sessions/cs_test_nope").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["error"]["code"], "resource_missing");
}

#[tokio::test]
async fn expiring_a_session_that_is_not_open_is_refused_like_stripe() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let id = api.create_session_id(&emulator).await;

    let expired = api
        .post(
            &format!("/v1/checkout/sessions/{id}/expire"),
            "",
            Some("exp-1"),
        )
        .await;
    assert_eq!(expired.status, 200);
    assert_eq!(expired.body["status"], "expired");
    assert_eq!(expired.body["url"], json!(null));

    let again = api
        .post(
            &format!("/v1/checkout/sessions/{id}/expire"),
            "",
            Some("exp-2"),
        )
        .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.body["error"]["type"], "invalid_request_error");
    assert_eq!(
        again.body["error"]["message"],
        "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of `expired`."
    );
}

#[tokio::test]
async fn injected_faults_answer_before_the_api() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    api.control(
        Method::POST,
        "/faults",
        Some(json!({"count": 1, "status": 503})),
    )
    .await;
    api.control(
        Method::POST,
        "/faults",
        Some(json!({"count": 1, "status": 429, "retry_after": 2})),
    )
    .await;
    assert_eq!(
        api.control(Method::GET, "/faults", None)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let unavailable = api.get("/v1/checkout/sessions").await;
    assert_eq!(unavailable.status, 503);
    assert_eq!(unavailable.body["error"]["type"], "api_error");
    let limited = api.get("/v1/checkout/sessions").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.headers["retry-after"], "2");
    assert_eq!(limited.body["error"]["code"], "rate_limit");
    assert_eq!(api.get("/v1/checkout/sessions").await.status, 200);

    api.control(
        Method::POST,
        "/faults",
        Some(json!({"count": 5, "status": 500})),
    )
    .await;
    api.control(Method::DELETE, "/faults", None).await;
    assert_eq!(api.get("/v1/checkout/sessions").await.status, 200);

    let log = api.control(Method::GET, "/requests", None).await;
    let statuses: Vec<u64> = log
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, vec![503, 429, 200, 200]);
}

#[tokio::test]
async fn injected_faults_carry_the_stripe_error_type_that_fits_their_status() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let expected = [
        (400, "invalid_request_error", None),
        (401, "invalid_request_error", None),
        (402, "card_error", Some("card_declined")),
        (404, "invalid_request_error", Some("resource_missing")),
        (429, "invalid_request_error", Some("rate_limit")),
        (500, "api_error", None),
        (503, "api_error", None),
    ];
    for (status, _, _) in expected {
        let queued = api
            .control(Method::POST, "/faults", Some(json!({"status": status})))
            .await;
        assert_eq!(queued.status, 200, "{}", queued.body);
    }

    for (status, type_, code) in expected {
        let reply = api.get("/v1/checkout/sessions").await;
        assert_eq!(reply.status, status);
        assert_eq!(reply.body["error"]["type"], type_, "{status}");
        assert_eq!(reply.body["error"]["code"].as_str(), code, "{status}");
    }
}

#[tokio::test]
async fn refunds_need_a_successful_charge_and_respect_its_amount() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let id = api.create_session_id(&emulator).await;
    api.control(
        Method::POST,
        &format!("/sessions/{id}/pay"),
        Some(json!({"outcome": "failed"})),
    )
    .await;
    let session = api.get(&format!("/v1/checkout/sessions/{id}")).await;
    let intent = session.body["payment_intent"].as_str().unwrap().to_owned();

    let unpaid = api
        .post("/v1/refunds", &format!("payment_intent={intent}"), None)
        .await;
    assert_eq!(unpaid.status, 400);

    api.control(
        Method::POST,
        &format!("/sessions/{id}/pay"),
        Some(json!({"card": "4242424242424242"})),
    )
    .await;
    let too_much = api
        .post(
            "/v1/refunds",
            &format!("payment_intent={intent}&amount=9999"),
            None,
        )
        .await;
    assert_eq!(too_much.status, 400);
    let refund = api
        .post(
            "/v1/refunds",
            &format!("payment_intent={intent}&amount=500"),
            None,
        )
        .await;
    assert_eq!(refund.status, 200);
    assert_eq!(refund.body["object"], "refund");
    let charge_id = refund.body["charge"].as_str().unwrap();
    let charge = api.get(&format!("/v1/charges/{charge_id}")).await;
    assert_eq!(charge.body["amount_refunded"], 500);
    assert_eq!(charge.body["payment_intent"], intent);
    let rest = api
        .post("/v1/refunds", &format!("payment_intent={intent}"), None)
        .await;
    assert_eq!(rest.body["amount"], 2000);
    let none_left = api
        .post("/v1/refunds", &format!("payment_intent={intent}"), None)
        .await;
    assert_eq!(none_left.body["error"]["code"], "charge_already_refunded");
}

#[tokio::test]
async fn unknown_routes_are_stripe_404s_and_reset_forgets_everything() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let unknown = api.get("/v1/customers").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.body["error"]["message"],
        "Unrecognized request URL (GET: /v1/customers)."
    );

    api.create_session(&emulator).await;
    api.control(Method::POST, "/clock/advance", Some(json!({"seconds": 60})))
        .await;
    api.control(Method::POST, "/reset", None).await;
    assert_eq!(
        api.get("/v1/checkout/sessions").await.body["data"],
        json!([])
    );
    assert_eq!(
        api.control(Method::GET, "/clock", None).await.body["offset"],
        0
    );
    assert_eq!(
        api.control(Method::GET, "/events", None).await.body,
        json!([])
    );
}
