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
async fn a_session_whose_payment_intent_was_canceled_cannot_be_paid() {
    let emulator = start(EmulatorConfig::for_tests()).await;
    let api = Api::new(&emulator);
    let session = api.create_session(&emulator).await;
    let (id, url) = (
        session["id"].as_str().unwrap(),
        session["url"].as_str().unwrap(),
    );
    // A declined card gives the session its PaymentIntent; then cancel it.
    submit(&api, url, "4000000000000002").await;
    let intent = api.get(&format!("/v1/checkout/sessions/{id}")).await.body["payment_intent"]
        .as_str()
        .unwrap()
        .to_owned();
    let canceled = api
        .post(&format!("/v1/payment_intents/{intent}/cancel"), "", None)
        .await;
    assert_eq!(canceled.body["status"], "canceled");

    let response = submit(&api, url, "4242424242424242").await;
    assert_eq!(
        response.status().as_u16(),
        200,
        "no redirect to success_url"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("no longer payable"), "{html}");
    assert!(!html.contains("Pay with card"), "{html}");
    for outcome in ["paid", "failed"] {
        let control = api
            .control(
                Method::POST,
                &format!("/sessions/{id}/pay"),
                Some(json!({"outcome": outcome})),
            )
            .await;
        assert_eq!(control.status, 400, "{outcome}");
        assert_eq!(
            control.body["error"]["code"], "checkout_session_not_open",
            "{outcome}"
        );
    }
    let (_, html) = page(&api, url).await;
    assert!(html.contains("no longer payable") && !html.contains("Pay with card"));

    let after = api
        .get(&format!(
            "/v1/checkout/sessions/{id}?expand[]=payment_intent"
        ))
        .await
        .body;
    assert_eq!(after["payment_intent"]["status"], "canceled");
    assert_eq!(after["status"], "open");
    assert_eq!(after["payment_status"], "unpaid");
    let events = api.control(Method::GET, "/events", None).await.body;
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] != "checkout.session.completed"),
        "{events}"
    );
}
