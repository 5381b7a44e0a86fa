//! `POST /api/payments/checkout/`: shape, stock, bad input, idempotency.

use crate::helpers::{Options, spawn_app, spawn_app_with};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::Method;
use serde_json::{Value, json};

async fn payments_count(app: &crate::helpers::TestApp) -> i64 {
    let mut conn = app.db.conn().await;
    domain::schema::payments::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn checkout_reserves_stock_and_answers_201_with_the_session() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let response = app.checkout(&browser, 2).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    for field in [
        "payment_id",
        "order_id",
        "session_id",
        "checkout_url",
        "expires_at",
    ] {
        assert!(body[field].is_string(), "{field} in {body}");
    }
    assert!(body["session_id"].as_str().unwrap().starts_with("cs_"));
    assert_eq!(body["amount"], "20.00", "computed on the server");
    assert_eq!(body["currency"], "USD");
    assert_eq!(app.units_sold().await, 2);
}

#[tokio::test]
async fn checkout_ignores_client_sent_prices() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let body = json!({ "items": [{ "product_id": app.product.0, "quantity": 1, "price": "0.01" }], "amount": "0.01" });
    let response = app
        .post_json(&browser, "/api/payments/checkout/", &body)
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["amount"], "10.00");
}

#[tokio::test]
async fn checkout_with_insufficient_stock_is_409() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let response = app.checkout(&browser, 11).await;
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"], "Stock insuficiente.");
    assert_eq!(body["available"], 10);
    assert_eq!(app.units_sold().await, 0);
}

#[tokio::test]
async fn invalid_quantities_are_400() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    for quantity in [
        json!(0),
        json!(-1),
        json!(100_000_000_000_000_i64),
        json!("2"),
        json!(1.5),
        json!(null),
    ] {
        let body = json!({ "items": [{ "product_id": app.product.0, "quantity": quantity }] });
        let response = app
            .post_json(&browser, "/api/payments/checkout/", &body)
            .await;
        assert_eq!(response.status(), 400, "quantity {quantity}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["items"][0].as_str().unwrap().contains("quantity"),
            "{body}"
        );
    }
    // Two lines of one product are one quantity, and that one is too large.
    let product = app.product.0;
    let twice = json!({ "items": [
        { "product_id": product, "quantity": 600 },
        { "product_id": product, "quantity": 600 },
    ] });
    let response = app
        .post_json(&browser, "/api/payments/checkout/", &twice)
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "items": [format!("Producto {product}: La cantidad debe estar entre 1 y 1000.")] })
    );
    for body in [json!({}), json!({ "items": [] }), json!({ "items": "x" })] {
        let response = app
            .post_json(&browser, "/api/payments/checkout/", &body)
            .await;
        assert_eq!(response.status(), 400, "{body}");
    }
    assert_eq!(payments_count(&app).await, 0);
}

#[tokio::test]
async fn unknown_product_is_400() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let body = json!({ "items": [{ "product_id": 999_999, "quantity": 1 }] });
    let response = app
        .post_json(&browser, "/api/payments/checkout/", &body)
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["items"][0]
            .as_str()
            .unwrap()
            .starts_with("Producto no encontrado")
    );
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let response = browser
        .request(Method::POST, "/api/payments/checkout/")
        .header("Content-Type", "application/json")
        .body("{\"items\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON mal formado")
    );
}

#[tokio::test]
async fn oversized_body_is_413() {
    let app = spawn_app_with(Options {
        json_body_limit: 1024,
        ..Options::default()
    })
    .await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let body = json!({ "items": [], "padding": "x".repeat(4096) });
    let response = app
        .post_json(&browser, "/api/payments/checkout/", &body)
        .await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["detail"],
        "El cuerpo de la petición es demasiado grande."
    );
}

#[tokio::test]
async fn anonymous_checkout_is_401() {
    let app = spawn_app().await;
    assert_eq!(app.checkout(&app.anonymous(), 1).await.status(), 401);
}

#[tokio::test]
async fn same_idempotency_key_and_body_replays_the_saved_response() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let send = || {
        browser
            .request(Method::POST, "/api/payments/checkout/")
            .header("Idempotency-Key", "pay-click-1")
            .json(&json!({ "items": [{ "product_id": app.product.0, "quantity": 1 }] }))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let second = send().await.unwrap();
    assert_eq!(second.status(), 201);
    assert_eq!(second.headers().get("idempotent-replayed").unwrap(), "true");
    let second: Value = second.json().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(payments_count(&app).await, 1);
    assert_eq!(app.units_sold().await, 1);
}

#[tokio::test]
async fn the_same_json_written_another_way_is_the_same_request() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let product = app.product.0;
    let send = |body: String| {
        browser
            .request(Method::POST, "/api/payments/checkout/")
            .header("Idempotency-Key", "pay-click-3")
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let first = send(format!(
        r#"{{"items":[{{"product_id":{product},"quantity":1}}]}}"#
    ))
    .await
    .unwrap();
    assert_eq!(first.status(), 201);
    let again = send(format!(
        "{{ \"items\": [ {{ \"quantity\": 1, \"product_id\": {product} }} ] }}\n"
    ))
    .await
    .unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(payments_count(&app).await, 1);
}

#[tokio::test]
async fn same_idempotency_key_with_another_body_is_422() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let send = |quantity: i64| {
        browser
            .request(Method::POST, "/api/payments/checkout/")
            .header("Idempotency-Key", "pay-click-2")
            .json(&json!({ "items": [{ "product_id": app.product.0, "quantity": quantity }] }))
            .send()
    };
    assert_eq!(send(1).await.unwrap().status(), 201);
    let response = send(2).await.unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["detail"],
        "La clave de idempotencia ya se usó con otra petición."
    );
}

#[tokio::test]
async fn a_double_clicked_pay_never_makes_two_orders() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let send = || {
        browser
            .request(Method::POST, "/api/payments/checkout/")
            .header("Idempotency-Key", "double-click")
            .json(&json!({ "items": [{ "product_id": app.product.0, "quantity": 1 }] }))
            .send()
    };
    let (a, b, c) = tokio::join!(send(), send(), send());
    let bodies: Vec<Value> = futures::future::join_all([a, b, c].into_iter().map(|r| async move {
        let r = r.unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()
    }))
    .await;
    assert!(bodies.iter().all(|b| b == &bodies[0]));
    assert_eq!(payments_count(&app).await, 1);
    assert_eq!(app.units_sold().await, 1);
}

/// A claimed `Idempotency-Key` holds its connection until the answer is
/// saved; the work needs one more. From one pool, as many keyed requests
/// as a thread has connections held them all and waited on each other
/// until the 503 (black-box adversary: 15 of 16 keyed checkouts).
#[tokio::test]
async fn concurrent_keyed_checkouts_do_not_use_up_the_connections_they_wait_for() {
    let app = spawn_app_with(Options {
        pool_size: 4,
        ..Options::default()
    })
    .await;
    app.give_stock(100).await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let send = |key: String| {
        browser
            .request(Method::POST, "/api/payments/checkout/")
            .header("Idempotency-Key", key)
            .json(&json!({ "items": [{ "product_id": app.product.0, "quantity": 1 }] }))
            .send()
    };

    let answers = futures::future::join_all((0..12).map(|i| send(format!("click-{i}")))).await;

    let statuses: Vec<u16> = answers
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    assert_eq!(payments_count(&app).await, 12);
}

#[tokio::test]
async fn a_coupon_discounts_the_amount_and_an_invalid_one_is_400() {
    let app = spawn_app().await;
    domain::testing::seed_coupon(&mut *app.db.conn().await, "WELCOME10", 10, None).await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let body = json!({ "items": [{ "product_id": app.product.0, "quantity": 2 }], "coupon_code": "WELCOME10" });
    let response = app
        .post_json(&browser, "/api/payments/checkout/", &body)
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["amount"], "18.00");
    let bad =
        json!({ "items": [{ "product_id": app.product.0, "quantity": 1 }], "coupon_code": "NOPE" });
    let response = app
        .post_json(&browser, "/api/payments/checkout/", &bad)
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["coupon_code"], json!(["El cupón no es válido."]));
    assert_eq!(
        app.units_sold().await,
        2,
        "the refused checkout reserved nothing"
    );
}

#[tokio::test]
async fn an_overlong_idempotency_key_is_400() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let response = browser
        .request(Method::POST, "/api/payments/checkout/")
        .header("Idempotency-Key", "k".repeat(256))
        .json(&json!({ "items": [{ "product_id": app.product.0, "quantity": 1 }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body["Idempotency-Key"][0].is_string(), "{body}");
    assert_eq!(payments_count(&app).await, 0);
}
