//! The hosted checkout page at a session's `url`.

mod support;

use reqwest::Method;
use serde_json::json;
use stripe_emulator::EmulatorConfig;
use support::*;

async fn page(api: &Api, url: &str) -> (u16, String) {
    let response = api.http.get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn submit(api: &Api, url: &str, card: &str) -> reqwest::Response {
    api.http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("card={}", card.replace(' ', "+")))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_page_shows_the_order_and_both_test_cards_and_a_way_back() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let session = api.create_session(&emulator).await;

    let (status, html) = page(&api, session["url"].as_str().unwrap()).await;

    assert_eq!(status, 200);
    assert!(html.contains("T-shirt × 2"));
    assert!(html.contains("25.00 USD"));
    assert!(html.contains("4242 4242 4242 4242"));
    assert!(html.contains("4000 0000 0000 0002"));
    assert!(html.contains("href=\"http://shop.test/cart\""));
}

#[tokio::test]
async fn paying_with_4242_completes_the_session_and_redirects_to_success_url() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let session = api.create_session(&emulator).await;
    let id = session["id"].as_str().unwrap();

    let response = submit(
        &api,
        session["url"].as_str().unwrap(),
        "4242 4242 4242 4242",
    )
    .await;

    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("http://shop.test/paid?s={id}")
    );
    let after = api
        .get(&format!(
            "/v1/checkout/sessions/{id}?expand[]=payment_intent"
        ))
        .await
        .body;
    assert_eq!(after["status"], "complete");
    assert_eq!(after["payment_status"], "paid");
    assert_eq!(after["payment_intent"]["status"], "succeeded");
    let events = api.control(Method::GET, "/events", None).await.body;
    assert_eq!(events[0]["type"], "checkout.session.completed");
    let (_, html) = page(&api, &format!("{}/pay/{id}", emulator.base_url())).await;
    assert!(html.contains("has been paid"));
}

#[tokio::test]
async fn a_declined_card_keeps_the_session_open_and_reports_the_failure() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let session = api.create_session(&emulator).await;
    let id = session["id"].as_str().unwrap();

    let response = submit(
        &api,
        session["url"].as_str().unwrap(),
        "4000 0000 0000 0002",
    )
    .await;

    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Your card was declined.")
    );
    let after = api
        .get(&format!(
            "/v1/checkout/sessions/{id}?expand[]=payment_intent"
        ))
        .await
        .body;
    assert_eq!(after["status"], "open");
    assert_eq!(after["payment_intent"]["status"], "requires_payment_method");
    assert_eq!(
        after["payment_intent"]["last_payment_error"]["code"],
        "card_declined"
    );
    let events = api.control(Method::GET, "/events", None).await.body;
    assert_eq!(events[0]["type"], "payment_intent.payment_failed");
    assert_eq!(
        events[0]["data"]["object"]["metadata"]["payment_id"],
        "pay_1"
    );

    // The customer may still pay afterwards, with the same PaymentIntent.
    submit(&api, session["url"].as_str().unwrap(), "4242424242424242").await;
    let paid = api.get(&format!("/v1/checkout/sessions/{id}")).await.body;
    assert_eq!(paid["payment_status"], "paid");
    assert_eq!(paid["payment_intent"], after["payment_intent"]["id"]);
}

#[tokio::test]
async fn an_expired_session_cannot_be_paid() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let session = api.create_session(&emulator).await;
    let id = session["id"].as_str().unwrap();
    api.control(Method::POST, &format!("/sessions/{id}/expire"), None)
        .await;

    let response = submit(&api, session["url"].as_str().unwrap(), "4242424242424242").await;

    assert_eq!(response.status().as_u16(), 200);
    assert!(response.text().await.unwrap().contains("has expired"));
    assert_eq!(
        api.get(&format!("/v1/checkout/sessions/{id}")).await.body["status"],
        "expired"
    );
    let control = api
        .control(
            Method::POST,
            &format!("/sessions/{id}/pay"),
            Some(json!({"outcome": "paid"})),
        )
        .await;
    assert_eq!(control.status, 400);
    assert_eq!(
        page(&api, &format!("{}/pay/cs_test_nope", emulator.base_url()))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn the_payment_intent_of_a_checkout_session_cannot_be_cancelled() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let session = api.create_session(&emulator).await;
    let (id, url) = (
        session["id"].as_str().unwrap(),
        session["url"].as_str().unwrap(),
    );
    // A declined card gives the session its PaymentIntent.
    submit(&api, url, "4000000000000002").await;
    let intent = api.get(&format!("/v1/checkout/sessions/{id}")).await.body["payment_intent"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancel = format!("/v1/payment_intents/{intent}/cancel");

    let refused = api.post(&cancel, "", Some("cancel-1")).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.body["error"]["type"], "invalid_request_error");
    assert_eq!(
        refused.body["error"]["message"],
        "You can't cancel the PaymentIntent for a Checkout Session. Expire the Checkout Session instead."
    );
    assert_eq!(refused.body["error"].get("code"), None);
    // Refused while executing, so saved under the key like Stripe does.
    let replayed = api.post(&cancel, "", Some("cancel-1")).await;
    assert_eq!(replayed.body, refused.body);
    assert_eq!(replayed.headers["idempotent-replayed"], "true");
    let reason = api
        .post(&cancel, "cancellation_reason=abandoned", None)
        .await;
    assert_eq!(reason.status, 400);

    let intent_now = api.get(&format!("/v1/payment_intents/{intent}")).await.body;
    assert_eq!(intent_now["status"], "requires_payment_method");
    assert_eq!(intent_now["cancellation_reason"], json!(null));
    let events = api.control(Method::GET, "/events", None).await.body;
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] != "payment_intent.canceled"),
        "{events}"
    );

    // The session is still payable, and a paid intent is not cancelable.
    let paid = submit(&api, url, "4242424242424242").await;
    assert_eq!(paid.status().as_u16(), 303);
    let after = api.post(&cancel, "", None).await;
    assert_eq!(after.status, 400);
    assert_eq!(
        after.body["error"]["code"],
        "payment_intent_unexpected_state"
    );

    // Expiring is the way: here on a second session, which cancels its
    // intent as `abandoned`.
    let other = api.create_session(&emulator).await;
    let (other_id, other_url) = (
        other["id"].as_str().unwrap(),
        other["url"].as_str().unwrap(),
    );
    submit(&api, other_url, "4000000000000002").await;
    let expired = api
        .post(
            &format!("/v1/checkout/sessions/{other_id}/expire"),
            "expand[]=payment_intent",
            None,
        )
        .await;
    assert_eq!(expired.body["status"], "expired");
    assert_eq!(expired.body["payment_intent"]["status"], "canceled");
    assert_eq!(
        expired.body["payment_intent"]["cancellation_reason"],
        "abandoned"
    );
}
