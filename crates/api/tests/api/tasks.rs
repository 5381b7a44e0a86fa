//! Background work through the API: check_expired_sessions, task_status,
//! and the debug endpoints; plus the permission matrix.

use crate::helpers::{Caller, DEAD_REDIS_URL, Options, TestApp, spawn_app, spawn_app_with};
use api::config::AppEnv;
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn staff_starts_a_one_off_sweep_with_202() {
    let app = spawn_app().await;
    let boss = app.create_user("boss@example.com", true).await;
    let boss = app.browser(&boss).await;
    let response = app.check_expired_sessions(&boss).await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "Limpieza de sesiones expiradas iniciada");
    assert_eq!(body["status"], "started");
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    let task_id = body["task_id"].as_str().unwrap();
    let task: Value = app.task_status(&boss, task_id).await.json().await.unwrap();
    assert_eq!(task["task_id"], task_id);
    assert_eq!(task["status"], "PENDING");
    assert_eq!(task["result"], Value::Null);
}

#[tokio::test]
async fn check_expired_sessions_is_403_for_users_and_401_for_anonymous() {
    let app = spawn_app().await;
    let ana = app.create_user("ana@example.com", false).await;
    assert_eq!(
        app.check_expired_sessions(&app.browser(&ana).await)
            .await
            .status(),
        403
    );
    assert_eq!(
        app.check_expired_sessions(&app.anonymous()).await.status(),
        401
    );
}

#[tokio::test]
async fn check_expired_sessions_is_503_with_detail_when_redis_is_down() {
    let app = spawn_app_with(Options {
        redis_url: DEAD_REDIS_URL.into(),
        ..Options::default()
    })
    .await;
    let boss = app.create_user("boss@example.com", true).await;
    let response = app
        .check_expired_sessions(&app.browser(&boss).await.english())
        .await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"], "Task queue unavailable");
}

async fn enqueued_by(app: &TestApp, caller: &Caller) -> String {
    let response = app.check_expired_sessions(caller).await;
    let body: Value = response.json().await.unwrap();
    body["task_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn task_status_is_for_the_requester_or_staff_only() {
    let app = spawn_app().await;
    let boss = app.create_user("boss@example.com", true).await;
    let other_boss = app.create_user("other@example.com", true).await;
    let ana = app.create_user("ana@example.com", false).await;
    let boss = app.browser(&boss).await;
    let task_id = enqueued_by(&app, &boss).await;
    let ana = app.browser(&ana).await;
    let response = app.task_status(&ana, &task_id).await;
    assert_eq!(response.status(), 404, "a task caused by someone else");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"], "Tarea no encontrada.");
    assert_eq!(
        app.task_status(&app.browser(&other_boss).await, &task_id)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.task_status(&app.anonymous(), &task_id).await.status(),
        401
    );
}

#[tokio::test]
async fn unknown_task_is_404_and_missing_task_id_is_400() {
    let app = spawn_app().await;
    let ana = app.create_user("ana@example.com", false).await;
    let ana = app.browser(&ana).await;
    assert_eq!(
        app.task_status(&ana, "01HZZZZZZZZZZZZZZZZZZZZZZZ")
            .await
            .status(),
        404
    );
    let response = app.get(&ana, "/api/payments/task_status/").await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["task_id"][0], "Este campo es obligatorio.");
}

#[tokio::test]
async fn task_status_shows_the_result_of_a_finished_task() {
    let app = spawn_app().await;
    let boss = app.create_user("boss@example.com", true).await;
    let boss = app.browser(&boss).await;
    let task_id = enqueued_by(&app, &boss).await;
    let result = serde_json::json!({ "status": "success", "found": 0 });
    domain::models::task::TaskRecord::transition(
        &mut *app.db.conn().await,
        &task_id,
        domain::models::task::TaskState::Success,
        1,
        Some(&result),
        None,
    )
    .await
    .unwrap();
    let task: Value = app
        .task_status(&boss.english(), &task_id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(task["status"], "SUCCESS");
    assert_eq!(task["ready"], true);
    assert_eq!(task["result"], result);
    assert_eq!(task["message"], "Task completed successfully");
    assert_eq!(task["attempts"], 1);
}

#[tokio::test]
async fn a_sweep_that_could_not_reconcile_everything_is_not_called_successful() {
    let app = spawn_app().await;
    let boss = app.create_user("boss@example.com", true).await;
    let boss = app.browser(&boss).await;
    let task_id = enqueued_by(&app, &boss).await;
    let result = serde_json::json!({ "trigger": "oneoff", "outcome": "error",
                                     "report": { "errors": 1 } });
    domain::models::task::TaskRecord::transition(
        &mut *app.db.conn().await,
        &task_id,
        domain::models::task::TaskState::Success,
        1,
        Some(&result),
        None,
    )
    .await
    .unwrap();
    let task: Value = app.task_status(&boss, &task_id).await.json().await.unwrap();
    assert_eq!(task["status"], "SUCCESS");
    assert_eq!(task["result"], result);
    assert_eq!(task["message"], "Tarea completada con errores");
}

#[tokio::test]
async fn test_cancellation_lists_open_payments_for_staff_only_in_production() {
    let app = spawn_app().await;
    let ana = app.create_user("ana@example.com", false).await;
    let boss = app.create_user("boss@example.com", true).await;
    let ana = app.browser(&ana).await;
    let checkout = app.paid_for_checkout(&ana, 1).await;
    assert_eq!(
        app.get(&ana, "/api/payments/test_cancellation/")
            .await
            .status(),
        403
    );
    let body: Value = app
        .get(
            &app.browser(&boss).await,
            "/api/payments/test_cancellation/",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["message"], "Encontrados 1 pagos para probar");
    let payment = &body["payments"][0];
    assert_eq!(payment["payment_id"], checkout["payment_id"]);
    assert_eq!(payment["user_email"], "ana@example.com");
    assert_eq!(payment["payment_status_display"], "Pendiente");
    assert_eq!(payment["stripe_session_id"], checkout["session_id"]);
    assert_eq!(payment["stripe"]["session_status"], "open");
    assert_eq!(
        body["test_endpoints"]["cancel"],
        "POST /api/payments/{payment_id}/cancel/"
    );
}

/// The filter is part of the query: a user whose payments are older than
/// the newest hundred is still found.
#[tokio::test]
async fn test_cancellation_finds_a_users_payments_beyond_the_newest_hundred() {
    let app = spawn_app().await;
    app.give_stock(200).await;
    let ana = app.create_user("ana@example.com", false).await;
    let bob = app.create_user("bob@example.com", false).await;
    let boss = app.create_user("boss@example.com", true).await;
    let checkout = app.paid_for_checkout(&app.browser(&ana).await, 1).await;
    let bob = app.browser(&bob).await;
    for _ in 0..100 {
        app.paid_for_checkout(&bob, 1).await;
    }
    let boss = app.browser(&boss).await;

    let body: Value = app
        .get(
            &boss,
            "/api/payments/test_cancellation/?user_email=ana@example.com",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["message"], "Encontrados 1 pagos para probar");
    assert_eq!(body["payments"][0]["payment_id"], checkout["payment_id"]);

    let nobody: Value = app
        .get(
            &boss,
            "/api/payments/test_cancellation/?user_email=nobody@example.com",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(nobody["payments"], serde_json::json!([]));
}

#[tokio::test]
async fn test_cancellation_is_open_to_anyone_in_development_and_to_no_anonymous_caller_elsewhere() {
    let production = spawn_app().await;
    let anonymous = reqwest::Client::new()
        .get(format!(
            "{}/api/payments/test_cancellation/",
            production.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let app = spawn_app_with(Options {
        app_env: AppEnv::Development,
        ..Options::default()
    })
    .await;
    let ana = app.create_user("ana@example.com", false).await;
    let ana = app.browser(&ana).await;
    let checkout = app.paid_for_checkout(&ana, 1).await;
    let listed: Value = reqwest::Client::new()
        .get(format!("{}/api/payments/test_cancellation/", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["payments"][0]["payment_id"], checkout["payment_id"]);
    let unknown = app
        .get(
            &ana,
            "/api/payments/test_cancellation/?payment_id=0b6f3c1e-8f43-4a57-9d7c-3f7a1c2b9e10",
        )
        .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn debug_cancel_is_open_to_the_owner_in_development() {
    let app = spawn_app_with(Options {
        app_env: AppEnv::Development,
        ..Options::default()
    })
    .await;
    let ana = app.create_user("ana@example.com", false).await;
    let eve = app.create_user("eve@example.com", false).await;
    let ana = app.browser(&ana).await;
    let checkout = app.paid_for_checkout(&ana, 1).await;
    let path = format!(
        "/api/payments/{}/debug_cancel/",
        checkout["payment_id"].as_str().unwrap()
    );
    assert_eq!(
        app.post_empty(&app.browser(&eve).await, &path)
            .await
            .status(),
        404
    );
    let body: Value = app.post_empty(&ana, &path).await.json().await.unwrap();
    assert_eq!(body["message"], "Cancelación completada");
    let info = &body["debug_info"];
    assert_eq!(info["request_user"], "ana@example.com");
    assert_eq!(info["payment_user"], "ana@example.com");
    assert_eq!(info["initial_payment_status"], "PENDING");
    assert_eq!(info["final_payment_status"], "CANCELLED");
    assert_eq!(info["final_order_status"], "CANCELLED");
    assert_eq!(info["cancel_successful"], true);
    assert_eq!(body["response"]["status"], "cancelled");
    assert_eq!(body["response"]["message"], "Pago cancelado exitosamente");
}

#[tokio::test]
async fn debug_cancel_is_staff_only_in_production() {
    let app = spawn_app().await;
    let ana = app.create_user("ana@example.com", false).await;
    let boss = app.create_user("boss@example.com", true).await;
    let ana = app.browser(&ana).await;
    let checkout = app.paid_for_checkout(&ana, 1).await;
    let path = format!(
        "/api/payments/{}/debug_cancel/",
        checkout["payment_id"].as_str().unwrap()
    );
    assert_eq!(app.post_empty(&ana, &path).await.status(), 403);
    assert_eq!(
        app.post_empty(&app.browser(&boss).await, &path)
            .await
            .status(),
        200
    );
}

/// (method, path, what an owner gets, what another user gets, staff, anonymous)
#[tokio::test]
async fn permission_matrix_for_cookie_and_token_callers() {
    let app = spawn_app().await;
    let owner = app.create_user("ana@example.com", false).await;
    let other = app.create_user("eve@example.com", false).await;
    let staff = app.create_user("boss@example.com", true).await;
    let owner_browser = app.browser(&owner).await;
    let id = app.paid_for_checkout(&owner_browser, 1).await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let callers: Vec<(&str, Caller)> = vec![
        ("anonymous", app.anonymous()),
        ("owner", owner_browser.clone()),
        ("owner-token", app.script(&owner).await),
        ("other", app.browser(&other).await),
        ("other-token", app.script(&other).await),
        ("staff", app.browser(&staff).await),
        ("staff-token", app.script(&staff).await),
    ];
    // Read-only endpoints first; expected status per caller kind.
    let matrix: Vec<(Method, String, [u16; 7])> = vec![
        (
            Method::GET,
            "/api/auth/me/".into(),
            [401, 200, 200, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/products/".into(),
            [200, 200, 200, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/payments/".into(),
            [401, 200, 200, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/payments/{id}/"),
            [401, 200, 200, 404, 404, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/payments/{id}/status/"),
            [401, 200, 200, 404, 404, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/payments/{id}/timeline/"),
            [401, 403, 403, 403, 403, 200, 200],
        ),
        (
            Method::GET,
            "/api/payments/payment_stats/".into(),
            [401, 403, 403, 403, 403, 200, 200],
        ),
        (
            Method::GET,
            "/api/payments/payment_stats_public/".into(),
            [200, 200, 200, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/payments/test_cancellation/".into(),
            [401, 403, 403, 403, 403, 200, 200],
        ),
        (
            Method::POST,
            format!("/api/payments/{id}/sync_status/"),
            [401, 200, 200, 404, 404, 200, 200],
        ),
        (
            Method::POST,
            format!("/api/payments/{id}/cancel/"),
            [401, 200, 200, 404, 404, 200, 200],
        ),
    ];
    for (method, path, expected) in matrix {
        for ((name, caller), want) in callers.iter().zip(expected) {
            let got = caller
                .request(method.clone(), &path)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(got.as_u16(), want, "{name} {method} {path}");
        }
    }
    // Unsafe cookie requests without CSRF are refused; tokens need none.
    let path = format!("/api/payments/{id}/sync_status/");
    for (name, caller) in &callers[1..] {
        let got = caller
            .without_csrf()
            .request(Method::POST, &path)
            .send()
            .await
            .unwrap()
            .status();
        let want = match *name {
            "owner" | "other" | "staff" => 403,
            "other-token" => 404,
            _ => 200,
        };
        assert_eq!(got.as_u16(), want, "{name} without CSRF");
    }
}

#[tokio::test]
async fn check_expired_sessions_refuses_options_that_are_not_booleans() {
    let app = spawn_app().await;
    let boss = app.create_user("boss@example.com", true).await;
    let boss = app.browser(&boss).await;
    let response = app
        .post_json(
            &boss,
            "/api/payments/check_expired_sessions/",
            &serde_json::json!({ "dry_run": "yes" }),
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["dry_run"][0], "Debe ser un booleano.");
    let response = app
        .post_json(
            &boss,
            "/api/payments/check_expired_sessions/",
            &serde_json::json!({ "dry_run": true, "force": false }),
        )
        .await;
    assert_eq!(response.status(), 202);
}
