//! Sessions, CSRF, tokens, staff, CORS and the login rate limit.

use crate::helpers::{Options, PASSWORD, spawn_app, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn csrf_endpoint_sets_the_cookie_and_returns_the_token() {
    let app = spawn_app().await;
    let caller = app.anonymous();
    let response = app.get_csrf(&caller).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let token = body["csrfToken"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    assert_eq!(caller.csrf_cookie().as_deref(), Some(token.as_str()));
}

#[tokio::test]
async fn login_sets_an_http_only_lax_session_cookie_and_rotates_the_csrf_token() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let caller = app.anonymous();
    app.get_csrf(&caller).await;
    let before = caller.csrf_cookie().unwrap();
    let response = app.login(&caller, &user.email, PASSWORD).await;
    assert_eq!(response.status(), 200);
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("sessionid="))
        .unwrap();
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(!session.contains("Secure"), "COOKIE_SECURE is off in tests");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "id": user.id.0, "email": "ana@example.com", "is_staff": false })
    );
    assert_ne!(caller.csrf_cookie().unwrap(), before, "csrftoken rotated");
}

/// As with DRF (CSRF only for a user the session authenticates), a script
/// logs in with no CSRF pair at all.
#[tokio::test]
async fn login_without_a_csrf_pair_works_for_a_script() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let caller = app.anonymous().without_csrf();
    let response = app.login(&caller, &user.email, PASSWORD).await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.get(&caller, "/api/auth/me/").await.status(), 200);
}

/// Login CSRF (another site logging the victim into the attacker's
/// account) is refused by the browser's `Origin`; a token that is sent
/// must match the cookie.
#[tokio::test]
async fn login_from_another_site_or_with_a_wrong_token_is_403() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let body = json!({ "email": user.email, "password": PASSWORD });
    let from_elsewhere = app
        .anonymous()
        .without_csrf()
        .request(Method::POST, "/api/auth/login/")
        .header("Origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    let caller = app.anonymous().without_csrf();
    app.get_csrf(&caller).await;
    let forged = caller
        .request(Method::POST, "/api/auth/login/")
        .header("X-CSRFToken", "0".repeat(64))
        .json(&body)
        .send()
        .await
        .unwrap();

    for response in [from_elsewhere, forged] {
        assert_eq!(response.status(), 403);
        let body: Value = response.json().await.unwrap();
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .starts_with("Falló la verificación CSRF"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_identical_answers() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let caller = app.anonymous();
    app.get_csrf(&caller).await;
    let wrong = app.login(&caller, &user.email, "wrong password").await;
    let unknown = app
        .login(&caller, "nobody@example.com", "wrong password")
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    let wrong: Value = wrong.json().await.unwrap();
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(wrong, unknown);
    assert_eq!(
        wrong["detail"],
        "Correo electrónico o contraseña no válidos."
    );
}

#[tokio::test]
async fn login_with_missing_fields_is_400_per_field() {
    let app = spawn_app().await;
    let caller = app.anonymous();
    app.get_csrf(&caller).await;
    let response = app
        .post_json(&caller, "/api/auth/login/", &json!({ "email": "bad" }))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body["email"].is_array());
    assert_eq!(body["password"], json!(["Este campo es obligatorio."]));

    // Well-formed JSON with a field of the wrong type is that field's error.
    let response = app
        .post_json(
            &caller,
            "/api/auth/login/",
            &json!({ "email": 5, "password": ["x"] }),
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "email": ["No es una cadena válida."], "password": ["No es una cadena válida."] })
    );
}

#[tokio::test]
async fn me_requires_authentication_and_shows_the_user() {
    let app = spawn_app().await;
    let response = app.get(&app.anonymous(), "/api/auth/me/").await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["detail"],
        "Las credenciales de autenticación no se proveyeron."
    );
    let staff = app.create_user("boss@example.com", true).await;
    let browser = app.browser(&staff).await;
    let body: Value = app
        .get(&browser, "/api/auth/me/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body,
        json!({ "id": staff.id.0, "email": "boss@example.com", "is_staff": true })
    );
}

#[tokio::test]
async fn logout_revokes_the_session_on_the_server() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let stolen = browser.cookie("sessionid").unwrap();
    let response = app.post_empty(&browser, "/api/auth/logout/").await;
    assert_eq!(response.status(), 204);
    // Replaying the old cookie from another client no longer works.
    assert_eq!(app.me_with_session_key(&stolen).await.status(), 401);
}

#[tokio::test]
async fn unsafe_cookie_requests_need_the_csrf_header() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let payment = app.paid_for_checkout(&browser, 1).await;
    let id = payment["payment_id"].as_str().unwrap();
    let response = app.cancel(&browser.without_csrf(), id).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["detail"],
        "Falló la verificación CSRF: falta el token CSRF."
    );
    let forged = browser
        .without_csrf()
        .request(Method::POST, &format!("/api/payments/{id}/cancel/"))
        .header("X-CSRFToken", "0".repeat(64))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let english = app.cancel(&browser.without_csrf().english(), id).await;
    let body: Value = english.json().await.unwrap();
    assert_eq!(body["detail"], "CSRF Failed: CSRF token missing.");
    assert_eq!(app.cancel(&browser, id).await.status(), 200);
}

#[tokio::test]
async fn token_authentication_needs_no_csrf() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let script = app.script(&user).await.without_csrf();
    let payment = app.paid_for_checkout(&script, 1).await;
    let id = payment["payment_id"].as_str().unwrap();
    assert_eq!(app.cancel(&script, id).await.status(), 200);
}

#[tokio::test]
async fn an_unknown_token_is_401() {
    let app = spawn_app().await;
    let response = app
        .anonymous()
        .request(Method::GET, "/api/auth/me/")
        .header("Authorization", "Token not-a-real-key")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"], "Token inválido.");
}

#[tokio::test]
async fn login_is_rate_limited_with_429() {
    let app = spawn_app_with(Options {
        login_per_minute: 3,
        ..Options::default()
    })
    .await;
    let caller = app.anonymous();
    app.get_csrf(&caller).await;
    for _ in 0..3 {
        assert_eq!(
            app.login(&caller, "x@example.com", "nope").await.status(),
            401
        );
    }
    let response = app.login(&caller, "x@example.com", "nope").await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["detail"],
        "Demasiadas peticiones; inténtelo más tarde."
    );
}

#[tokio::test]
async fn successful_logins_do_not_use_up_the_login_limit() {
    let app = spawn_app_with(Options {
        login_per_minute: 3,
        ..Options::default()
    })
    .await;
    let user = app.create_user("ana@example.com", false).await;
    let caller = app.anonymous();
    for _ in 0..5 {
        app.get_csrf(&caller).await;
        assert_eq!(
            app.login(&caller, &user.email, PASSWORD).await.status(),
            200
        );
    }
    app.get_csrf(&caller).await;
    for _ in 0..3 {
        assert_eq!(app.login(&caller, &user.email, "nope").await.status(), 401);
    }
    assert_eq!(app.login(&caller, &user.email, "nope").await.status(), 429);
}

#[tokio::test]
async fn cors_allows_credentials_only_for_allowed_origins() {
    let app = spawn_app().await;
    let preflight = |origin: &'static str| {
        reqwest::Client::new()
            .request(Method::OPTIONS, format!("{}/api/auth/me/", app.address))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .send()
    };
    let allowed = preflight("http://frontend.test").await.unwrap();
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .unwrap(),
        "http://frontend.test"
    );
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-credentials")
            .unwrap(),
        "true"
    );
    let refused = preflight("http://evil.test").await.unwrap();
    for header in [
        "access-control-allow-origin",
        "access-control-allow-credentials",
    ] {
        assert!(refused.headers().get(header).is_none(), "{header}");
    }
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["detail"], "Origen no permitido.");
    // An allowed origin asking for a header or method the API does not
    // take is told that, not that its origin is refused.
    for (method, headers, detail) in [
        (
            "GET",
            "x-requested-with",
            "One of the requested headers is not allowed for cross-origin requests.",
        ),
        (
            "DELETE",
            "content-type",
            "Method not allowed for cross-origin requests.",
        ),
    ] {
        let refused = reqwest::Client::new()
            .request(Method::OPTIONS, format!("{}/api/auth/me/", app.address))
            .header("Origin", "http://frontend.test")
            .header("Accept-Language", "en")
            .header("Access-Control-Request-Method", method)
            .header("Access-Control-Request-Headers", headers)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400, "{method} {headers}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["detail"], detail, "{method} {headers}");
    }
    // A plain request from elsewhere (or none) is not told credentials are allowed.
    let plain = reqwest::Client::new()
        .get(format!("{}/api/products/", app.address))
        .header("Origin", "http://evil.test")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert!(
        plain
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
}

#[tokio::test]
async fn an_expired_session_no_longer_authenticates() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    assert_eq!(app.get(&browser, "/api/auth/me/").await.status(), 200);
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("UPDATE sessions SET expires_at = now() - interval '1 minute'"),
        &mut *app.db.conn().await,
    )
    .await
    .unwrap();
    assert_eq!(app.get(&browser, "/api/auth/me/").await.status(), 401);
}

#[tokio::test]
async fn the_csrf_endpoint_gives_the_session_token_once_logged_in() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let cookie = browser.csrf_cookie().unwrap();
    let body: Value = app.get_csrf(&browser).await.json().await.unwrap();
    assert_eq!(body["csrfToken"], cookie);
}

#[tokio::test]
async fn login_with_malformed_json_is_400() {
    let app = spawn_app().await;
    let caller = app.anonymous();
    app.get_csrf(&caller).await;
    let response = caller
        .request(Method::POST, "/api/auth/login/")
        .header("Content-Type", "application/json")
        .body("{\"email\": ")
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
async fn logging_in_again_rotates_the_session_key() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let first = browser.cookie("sessionid").unwrap();
    assert_eq!(
        app.login(&browser, &user.email, PASSWORD).await.status(),
        200
    );
    let second = browser.cookie("sessionid").unwrap();
    assert_ne!(first, second);
    assert_eq!(
        app.me_with_session_key(&first).await.status(),
        401,
        "the old key is revoked"
    );
    assert_eq!(app.me_with_session_key(&second).await.status(), 200);
}

#[tokio::test]
async fn unsafe_cookie_requests_from_an_untrusted_origin_are_403() {
    let app = spawn_app().await;
    let user = app.create_user("ana@example.com", false).await;
    let browser = app.browser(&user).await;
    let id = app.paid_for_checkout(&browser, 1).await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancel = |origin: &'static str| {
        browser
            .request(Method::POST, &format!("/api/payments/{id}/cancel/"))
            .header("Origin", origin)
            .send()
    };
    let refused = cancel("http://evil.test").await.unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["detail"],
        "Falló la verificación CSRF: el origen de la petición no es de confianza."
    );
    assert_eq!(cancel("http://frontend.test").await.unwrap().status(), 200);
}

/// Valid JSON of another shape is told so in the API's words, never in
/// serde's (which name Rust types).
#[tokio::test]
async fn login_with_json_that_is_not_an_object_is_400_without_internals() {
    let app = spawn_app().await;
    let caller = app.anonymous();
    for body in [json!([1]), json!("ana"), json!(7)] {
        let response = app.post_json(&caller, "/api/auth/login/", &body).await;
        assert_eq!(response.status(), 400, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            answer["detail"], "Datos no válidos: se esperaba un objeto JSON",
            "{body}"
        );
    }
}
