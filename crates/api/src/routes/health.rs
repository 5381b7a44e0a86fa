//! `GET /healthz` (the process is alive) and `GET /readyz` (PostgreSQL
//! and Redis answer; 503 naming what is down).

use crate::error::RETRY_AFTER_SECS;
use crate::lang::Language;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use std::time::Duration;
use worker::queue::QueueError;

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "{status: \"ok\"}")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn postgres(state: &AppState) -> Result<(), String> {
    let check = async {
        let mut conn = state
            .pool
            .get()
            .await
            .map_err(|e| domain::db::unavailable_reason(&e))?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    };
    tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| Err(domain::db::timed_out_reason()))
}

async fn redis(state: &AppState) -> Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, state.queue.ping()).await {
        // The reason alone: "Redis" is already the check's name.
        Ok(result) => result.map_err(|e| match e {
            QueueError::Unavailable(reason) => reason,
            other => other.to_string(),
        }),
        Err(_) => Err("timed out".into()),
    }
}

fn check(result: &Result<(), String>) -> Value {
    match result {
        Ok(()) => json!("ok"),
        Err(e) => json!(format!("down: {e}")),
    }
}

#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "{status: \"ok\", checks: {postgres, redis}}"),
              (status = 503, description = "{status: \"unavailable\", detail, checks} naming what is down")))]
pub async fn readyz(Language(lang): Language, state: web::Data<AppState>) -> HttpResponse {
    let (pg, rd) = tokio::join!(postgres(&state), redis(&state));
    let checks = json!({ "postgres": check(&pg), "redis": check(&rd) });
    let down: Vec<&str> = [("PostgreSQL", &pg), ("Redis", &rd)]
        .into_iter()
        .filter(|(_, r)| r.is_err())
        .map(|(name, _)| name)
        .collect();
    if down.is_empty() {
        return HttpResponse::Ok().json(json!({ "status": "ok", "checks": checks }));
    }
    let detail = format!(
        "{}: {}",
        lang.pick("No disponible", "Unavailable"),
        down.join(", ")
    );
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS))
        .json(json!({
            "status": "unavailable",
            "detail": detail,
            "checks": checks,
        }))
}
