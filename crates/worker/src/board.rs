//! The job-monitoring board on `BOARD_BIND` (the Flower of this project).
//!
//! - `/ops` (HTML) and `/ops/api/overview` (JSON): our own view from
//!   PostgreSQL and Redis — queue depths, recent tasks with state, attempts
//!   and errors, the workers alive, the sweep chain's heartbeat — because
//!   apalis-board's `/queues`, `/stats`, `/overview` and per-queue task
//!   lists are broken against apalis-redis 1.0.
//! - `/healthz`, `/metrics` (Prometheus).
//! - apalis-board's API under `/api/v1` and its UI at the root (it must sit
//!   at `/`, and its catch-all is registered last). No auth: keep the bind
//!   address on loopback or a private network.

use crate::chain::{self, ChainStatus};
use crate::context::AppContext;
use crate::error::WorkerError;
use crate::metrics as m;
use crate::queue::queue_config;
use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, Scope, web};
use apalis_board::actix::framework::{ApiBuilder, RegisterRoute};
use apalis_board::actix::ui::ServeUI;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::jobs::{PAYMENTS_QUEUE, SWEEP_QUEUE};
use domain::models::task::TaskRecord;
use domain::schema::task_records;
use serde::Serialize;
use serde_json::json;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::task::JoinHandle;

pub struct BoardHandle {
    addr: SocketAddr,
    server: ServerHandle,
    task: JoinHandle<std::io::Result<()>>,
}

impl BoardHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops at once: an operator's page (and its open event streams) must
    /// not hold a worker's exit up past its shutdown timeout.
    pub async fn stop(self) {
        self.server.stop(false).await;
        let _ = self.task.await;
    }
}

#[derive(Debug, Serialize)]
pub struct QueueDepth {
    pub queue: String,
    /// Due, waiting for a worker.
    pub active: u64,
    /// Waiting for their time (delayed jobs, retries, the chain's next link).
    pub scheduled: u64,
    /// Fetched by a worker (running or prefetched).
    pub inflight: u64,
    pub done: u64,
    pub dead: u64,
}

#[derive(Debug, Serialize)]
pub struct WorkerInfo {
    pub queue: String,
    pub name: String,
    pub last_heartbeat_secs_ago: i64,
    pub alive: bool,
}

#[derive(Debug, Serialize)]
pub struct TaskView {
    pub id: String,
    pub job_name: String,
    pub state: String,
    pub attempts: i32,
    pub error: Option<String>,
    pub result: Option<serde_json::Value>,
    pub payment_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<TaskRecord> for TaskView {
    fn from(r: TaskRecord) -> Self {
        Self {
            id: r.id,
            job_name: r.job_name,
            state: r.status,
            attempts: r.attempts,
            error: r.error,
            result: r.result,
            payment_id: r.payment_id.map(|p| p.to_string()),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Overview {
    pub queues: Vec<QueueDepth>,
    pub workers: Vec<WorkerInfo>,
    pub chain: Option<ChainStatus>,
    pub recent_tasks: Vec<TaskView>,
    /// Why the chain and the recent tasks are missing: PostgreSQL is down
    /// (the queues and workers, read from Redis, are still shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_error: Option<String>,
}

/// Queue depths and workers, read from apalis-redis's keys.
pub async fn queues_and_workers(
    ctx: &AppContext,
) -> Result<(Vec<QueueDepth>, Vec<WorkerInfo>), WorkerError> {
    let mut conn = ctx.queue.redis();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let orphan_after = i64::try_from(ctx.config.queue.orphan_after().as_secs()).unwrap_or(i64::MAX);
    let mut depths = Vec::new();
    let mut workers = Vec::new();
    for queue in [PAYMENTS_QUEUE, SWEEP_QUEUE] {
        let config = queue_config(ctx.queue.prefix(), queue);
        let (active, scheduled, done, dead, names): (u64, u64, u64, u64, Vec<(String, f64)>) =
            redis::pipe()
                .llen(config.active_jobs_list())
                .zcard(config.scheduled_jobs_set())
                .scard(config.done_jobs_set())
                .scard(config.dead_jobs_set())
                .cmd("ZRANGE")
                .arg(config.workers_set())
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(&mut conn)
                .await?;
        let mut inflight = 0;
        for (name, beat) in names {
            let n: u64 = redis::cmd("SCARD")
                .arg(format!("{}:{name}", config.inflight_jobs_set()))
                .query_async(&mut conn)
                .await?;
            inflight += n;
            let ago = now - beat as i64;
            workers.push(WorkerInfo {
                queue: queue.to_owned(),
                name,
                last_heartbeat_secs_ago: ago,
                alive: ago <= orphan_after,
            });
        }
        for (state, n) in [
            ("active", active),
            ("scheduled", scheduled),
            ("inflight", inflight),
            ("done", done),
            ("dead", dead),
        ] {
            m::queue_depth(queue, state, n);
        }
        depths.push(QueueDepth {
            queue: queue.to_owned(),
            active,
            scheduled,
            inflight,
            done,
            dead,
        });
    }
    Ok((depths, workers))
}

pub async fn recent_tasks(ctx: &AppContext, limit: i64) -> Result<Vec<TaskView>, WorkerError> {
    let mut db = ctx.pool.get().await?;
    let rows: Vec<TaskRecord> = task_records::table
        .order(task_records::updated_at.desc())
        .limit(limit)
        .select(TaskRecord::as_select())
        .load(&mut db)
        .await?;
    Ok(rows.into_iter().map(TaskView::from).collect())
}

/// What the board shows. Redis is its source: without it, an error. Without
/// PostgreSQL it still shows the queues and workers, which an operator
/// needs most during a database outage, and says why the rest is missing.
pub async fn overview(ctx: &AppContext) -> Result<Overview, WorkerError> {
    let (queues, workers) = queues_and_workers(ctx).await?;
    let mut overview = Overview {
        queues,
        workers,
        chain: None,
        recent_tasks: Vec::new(),
        database_error: None,
    };
    let mut db = match ctx.pool.get().await {
        Ok(db) => db,
        Err(e) => {
            overview.database_error = Some(domain::db::unavailable_reason(&e));
            return Ok(overview);
        }
    };
    overview.chain = chain::chain_status(&ctx.queue, &mut db, ctx.config.chain.overdue_grace)
        .await
        .ok();
    drop(db);
    overview.recent_tasks = recent_tasks(ctx, 50).await?;
    Ok(overview)
}

type Ctx = web::Data<Arc<AppContext>>;

async fn healthz(ctx: Ctx) -> HttpResponse {
    let redis = ctx.queue.ping().await.map_err(|e| e.to_string());
    let db = match ctx.pool.get().await {
        Ok(conn) => {
            drop(conn);
            Ok(())
        }
        Err(e) => Err(domain::db::unavailable_reason(&e)),
    };
    let body = json!({
        "status": if redis.is_ok() && db.is_ok() { "ok" } else { "degraded" },
        "redis": redis.err().unwrap_or_else(|| "ok".into()),
        "database": db.err().unwrap_or_else(|| "ok".into()),
    });
    if body["status"] == "ok" {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn metrics(ctx: Ctx) -> HttpResponse {
    // Refresh the gauges read from Redis/PostgreSQL at scrape time.
    let _ = queues_and_workers(&ctx).await;
    if let Ok(mut db) = ctx.pool.get().await
        && let Ok(status) =
            chain::chain_status(&ctx.queue, &mut db, ctx.config.chain.overdue_grace).await
    {
        m::chain_heartbeat(
            status.heartbeat_age_secs,
            status.health == chain::ChainHealth::Healthy,
        );
    } else {
        m::chain_unknown();
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(m::install().render())
}

async fn overview_json(ctx: Ctx) -> HttpResponse {
    match overview(&ctx).await {
        Ok(o) => HttpResponse::Ok().json(o),
        Err(e) => HttpResponse::ServiceUnavailable().json(json!({ "error": e.to_string() })),
    }
}

async fn ops_page(ctx: Ctx) -> HttpResponse {
    match overview(&ctx).await {
        Ok(o) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(crate::board_page::render(&o)),
        Err(e) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(format!("board unavailable: {e}")),
    }
}

/// Binds `addr` (port 0 picks one) and serves the board on the current
/// tokio runtime.
pub fn start(ctx: Arc<AppContext>, addr: SocketAddr) -> Result<BoardHandle, WorkerError> {
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let payments = ctx.queue.payments_storage();
    let sweep = ctx.queue.sweep_storage();
    let broadcaster = web::Data::new(crate::telemetry::broadcaster());
    let data = web::Data::new(ctx);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(broadcaster.clone())
            .route("/healthz", web::get().to(healthz))
            .route("/metrics", web::get().to(metrics))
            .route("/ops", web::get().to(ops_page))
            .route("/ops/api/overview", web::get().to(overview_json))
            .service(
                ApiBuilder::new(Scope::new("/api/v1"))
                    .register(PAYMENTS_QUEUE, payments.clone())
                    .register(SWEEP_QUEUE, sweep.clone())
                    .build(),
            )
            .service(ServeUI::new())
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    tracing::info!(target: "payments", %addr, "board listening (/ops, /healthz, /metrics, apalis-board at /)");
    Ok(BoardHandle {
        addr,
        server: handle,
        task,
    })
}
