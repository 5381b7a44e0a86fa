//! The demo page under `/demo/`: served from the binary in development,
//! absent in production (its browser tests are in `browser/`).

use crate::helpers::{Options, TestApp, spawn_app, spawn_app_with};
use api::config::AppEnv;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use serde_json::Value;

async fn development_app() -> TestApp {
    spawn_app_with(Options {
        app_env: AppEnv::Development,
        ..Options::default()
    })
    .await
}

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_demo_page_is_served_in_development_with_its_modules() {
    let app = development_app().await;
    let caller = app.anonymous();

    let page = app.get(&caller, "/demo/").await;
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, CONTENT_TYPE), "text/html; charset=utf-8");
    assert!(header(&page, CONTENT_SECURITY_POLICY).contains("script-src 'self'"));
    assert_eq!(header(&page, CACHE_CONTROL), "no-cache");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script type="module" src="/demo/app.js">"#));

    for module in ["app.js", "api.js", "dom.js", "operator.js"] {
        let script = app.get(&caller, &format!("/demo/{module}")).await;
        assert_eq!(script.status(), 200, "{module}");
        assert_eq!(
            header(&script, CONTENT_TYPE),
            "text/javascript; charset=utf-8",
            "{module}"
        );
    }
    let css = app.get(&caller, "/demo/style.css").await;
    assert_eq!(css.status(), 200);
    assert_eq!(header(&css, CONTENT_TYPE), "text/css; charset=utf-8");
}

#[tokio::test]
async fn stripe_sends_the_customer_back_to_the_demo_page() {
    // FRONTEND_URL=http://<api>/demo makes these the success and cancel URLs.
    let app = development_app().await;
    let caller = app.anonymous();
    let index = app.get(&caller, "/demo/").await.text().await.unwrap();
    for path in [
        "/demo/checkout/success?session_id=cs_test_1",
        "/demo/checkout/cancel",
    ] {
        let page = app.get(&caller, path).await;
        assert_eq!(page.status(), 200, "{path}");
        assert_eq!(page.text().await.unwrap(), index, "{path}");
    }
    let bare = app.get(&caller, "/demo").await;
    assert_eq!(bare.status(), 308);
    assert_eq!(header(&bare, LOCATION), "/demo/");
}

#[tokio::test]
async fn an_unknown_demo_file_is_the_apis_json_404() {
    let app = development_app().await;
    let response = app.get(&app.anonymous(), "/demo/secrets.js").await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert!(body["detail"].is_string());
}

#[tokio::test]
async fn the_demo_page_does_not_exist_in_production() {
    let app = spawn_app().await;
    let caller = app.anonymous();
    for path in [
        "/demo",
        "/demo/",
        "/demo/app.js",
        "/demo/style.css",
        "/demo/checkout/success?session_id=cs_test_1",
    ] {
        let response = app.get(&caller, path).await;
        assert_eq!(response.status(), 404, "{path}");
    }
}
