//! Builds and supervises the apalis workers of one process, the chain
//! keeper (seed + dead-man switch), the maintenance loop and the board.
//!
//! apalis-redis ends a worker's future on any Redis error (a restart, a
//! flush that unregisters it), so each worker runs in a loop that rebuilds
//! it with backoff, under a new unique name each time: apalis refuses a
//! name seen within the heartbeat interval, and two processes sharing a
//! name would break orphan recovery.

use crate::chain;
use crate::context::AppContext;
use crate::error::WorkerError;
use crate::jobs::clean_expired_sessions::handle_sweep_job;
use crate::jobs::handle_payment_job;
use crate::maintenance;
use crate::metrics as m;
use crate::queue::queue_config;
use apalis::prelude::{BackendExt, Strategy, WorkerBuilder, WorkerBuilderExt};
use apalis_redis::{Config, RedisStorage};
use domain::jobs::{PAYMENTS_QUEUE, SWEEP_QUEUE};
use domain::models::payment::Payment;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// `{queue}@{host}-{pid}-{random}`: unique per process and per restart.
pub fn worker_name(queue: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let random = ulid::Ulid::generate().to_string();
    format!(
        "{queue}@{host}-{}-{}",
        std::process::id(),
        &random[random.len() - 8..]
    )
}

/// The apalis configuration a consuming worker uses: our liveness timing
/// and a prefetch no larger than the concurrency (prefetched ids sit in
/// the worker's inflight set, and would wait behind slow jobs).
pub fn worker_queue_config(ctx: &AppContext, queue: &str, batch: usize) -> Config {
    queue_config(ctx.queue.prefix(), queue)
        .heartbeat_interval(ctx.config.queue.heartbeat)
        .missed_heartbeats(ctx.config.queue.missed_heartbeats)
        .batch_size(batch.max(1))
}

fn fetch_strategy(ctx: &AppContext, queue: &str) -> Strategy {
    ctx.queue
        .fetch_strategy(queue, ctx.config.queue.poll_interval)
}

async fn stopped(mut stop: watch::Receiver<bool>) -> Result<(), std::io::Error> {
    let _ = stop.wait_for(|s| *s).await;
    Ok(())
}

async fn run_payments_worker(
    ctx: Arc<AppContext>,
    name: String,
    stop: watch::Receiver<bool>,
) -> Result<(), WorkerError> {
    let n = ctx.config.worker_concurrency;
    let storage = RedisStorage::<Value>::new(ctx.queue.redis())
        .with_config(worker_queue_config(&ctx, PAYMENTS_QUEUE, n))
        .poll_with_strategy(fetch_strategy(&ctx, PAYMENTS_QUEUE));
    let worker = WorkerBuilder::new(name)
        .backend(storage)
        .data(ctx.clone())
        .concurrency(n)
        .enable_tracing()
        .build(handle_payment_job);
    worker
        .run_until(stopped(stop))
        .await
        .map_err(|e| WorkerError::Runner(e.to_string()))
}

async fn run_sweep_worker(
    ctx: Arc<AppContext>,
    name: String,
    stop: watch::Receiver<bool>,
) -> Result<(), WorkerError> {
    // One sweep at a time per process; the sweep has its own concurrency.
    let storage = RedisStorage::<Value>::new(ctx.queue.redis())
        .with_config(worker_queue_config(&ctx, SWEEP_QUEUE, 1))
        .poll_with_strategy(fetch_strategy(&ctx, SWEEP_QUEUE));
    let worker = WorkerBuilder::new(name)
        .backend(storage)
        .data(ctx.clone())
        .concurrency(1)
        .enable_tracing()
        .build(handle_sweep_job);
    worker
        .run_until(stopped(stop))
        .await
        .map_err(|e| WorkerError::Runner(e.to_string()))
}

/// After a clean stop, removes the worker's name and metadata: apalis's
/// close path `ZREM`s the wrong member, leaving the name to look alive
/// until other workers expire it.
async fn deregister(ctx: &AppContext, queue: &str, name: &str) {
    let config = queue_config(ctx.queue.prefix(), queue);
    let mut conn = ctx.queue.redis();
    let inflight = format!("{}:{name}", config.inflight_jobs_set());
    let left: u64 = redis::cmd("SCARD")
        .arg(&inflight)
        .query_async(&mut conn)
        .await
        .unwrap_or(1);
    if left > 0 {
        return; // leave them to orphan recovery
    }
    let removed: Result<(), _> = redis::pipe()
        .zrem(config.workers_set(), name)
        .del(format!("{}:workers:metadata:{name}", config.queue))
        .query_async(&mut conn)
        .await;
    if let Err(e) = removed {
        tracing::debug!(target: "payments", worker = name, error = %e, "could not deregister");
    }
}

/// Runs a worker again and again (new name each time) until `stop`.
async fn supervise<F, Fut>(
    ctx: Arc<AppContext>,
    queue: &'static str,
    label: &'static str,
    stop: watch::Receiver<bool>,
    mut run: F,
) where
    F: FnMut(String, watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = Result<(), WorkerError>>,
{
    const FIRST: Duration = Duration::from_millis(250);
    let mut backoff = FIRST;
    loop {
        if *stop.borrow() {
            return;
        }
        let name = worker_name(label);
        tracing::info!(target: "payments", worker = %name, "worker starting");
        let started = Instant::now();
        let result = run(name.clone(), stop.clone()).await;
        if *stop.borrow() {
            if result.is_ok() {
                deregister(&ctx, queue, &name).await;
            }
            tracing::info!(target: "payments", worker = %name, "worker stopped");
            return;
        }
        match result {
            Ok(()) => {
                tracing::warn!(target: "payments", worker = %name, "worker ended; restarting")
            }
            Err(e) => tracing::warn!(target: "payments", worker = %name, error = %e,
                "worker failed (Redis unavailable?); restarting"),
        }
        m::worker_restarted(label);
        if started.elapsed() > Duration::from_secs(30) {
            backoff = FIRST;
        }
        let mut waiting = stop.clone();
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = waiting.wait_for(|s| *s) => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// Watches the sweep: with `AUTO_CLEANUP` the dead-man switch keeps the
/// chain alive; either way the backlog the sweep should clear is exported,
/// so workers that leave the sweep to someone else still raise the alert
/// when nobody clears it.
async fn sweep_watch(ctx: Arc<AppContext>, mut stop: watch::Receiver<bool>) {
    let interval = ctx.config.chain.deadman_interval;
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if ctx.config.auto_cleanup
            && let Err(e) = chain::deadman_check(&ctx).await
        {
            tracing::warn!(target: "payments", error = %e,
                "dead-man switch could not check the sweep chain");
        }
        observe_open_expired(&ctx).await;
    }
}

/// Exports how many open payments wait past their expiry for the sweep.
async fn observe_open_expired(ctx: &AppContext) {
    let counted = async {
        let mut db = ctx.pool.get().await?;
        let now = time::OffsetDateTime::now_utc();
        Ok::<_, WorkerError>(Payment::count_open_and_expired(&mut db, now).await?)
    };
    match counted.await {
        Ok(n) => m::open_expired_payments(n),
        Err(e) => tracing::warn!(target: "payments", error = %e,
            "could not count open payments past their expiry"),
    }
}

async fn seed_chain(ctx: &AppContext) {
    let ensured = async {
        let mut db = ctx.pool.get().await?;
        chain::ensure_chain(
            &ctx.queue,
            &mut db,
            Some(ctx.config.chain.initial_delay),
            false,
        )
        .await
    };
    match ensured.await {
        Ok(done) => {
            tracing::info!(target: "payments", result = done.result(), task_id = done.task_id(),
            "sweep chain ensured")
        }
        Err(e) => tracing::warn!(target: "payments", error = %e,
            "could not ensure the sweep chain now; the dead-man switch will retry"),
    }
}

/// A running worker process (or, in tests, several in one process).
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    board: Option<crate::board::BoardHandle>,
    shutdown_timeout: Duration,
    ctx: Arc<AppContext>,
}

impl WorkerHandle {
    pub fn board_addr(&self) -> Option<SocketAddr> {
        self.board.as_ref().map(crate::board::BoardHandle::addr)
    }

    pub fn context(&self) -> &Arc<AppContext> {
        &self.ctx
    }

    /// Stops fetching, lets in-flight jobs finish (prefetched ones go back
    /// to the queue) for at most the shutdown timeout. Returns false if the
    /// timeout cut jobs off (other workers take them back as orphans).
    pub async fn shutdown(self) -> bool {
        let _ = self.stop.send(true);
        if let Some(board) = self.board {
            board.stop().await;
        }
        let all = futures::future::join_all(self.tasks);
        let clean = tokio::time::timeout(self.shutdown_timeout, all)
            .await
            .is_ok();
        if !clean {
            tracing::warn!(target: "payments",
                "shutdown timeout reached; unfinished jobs are left to orphan recovery");
        }
        clean
    }
}

/// Starts everything a worker process runs and returns at once.
pub async fn start(ctx: Arc<AppContext>) -> Result<WorkerHandle, WorkerError> {
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let c = ctx.clone();
    tasks.push(tokio::spawn(supervise(
        ctx.clone(),
        PAYMENTS_QUEUE,
        "payments",
        stop_rx.clone(),
        move |name, stop| run_payments_worker(c.clone(), name, stop),
    )));
    let c = ctx.clone();
    tasks.push(tokio::spawn(supervise(
        ctx.clone(),
        SWEEP_QUEUE,
        "sweep",
        stop_rx.clone(),
        move |name, stop| run_sweep_worker(c.clone(), name, stop),
    )));
    if ctx.config.auto_cleanup {
        seed_chain(&ctx).await;
    } else {
        tracing::info!(target: "payments", "AUTO_CLEANUP is off: not managing the sweep chain");
    }
    tasks.push(tokio::spawn(sweep_watch(ctx.clone(), stop_rx.clone())));
    tasks.push(tokio::spawn(maintenance::run_loop(
        ctx.clone(),
        ctx.config.maintenance_interval,
        stop_rx.clone(),
    )));
    // A second worker on the same host finds the board's port taken: it
    // works on without a board rather than refusing to run.
    let board = ctx.config.board_bind.and_then(|addr| {
        crate::board::start(ctx.clone(), addr)
            .inspect_err(|e| {
                tracing::warn!(target: "payments", %addr, error = %e,
                    "board not started (address in use by another worker?)");
            })
            .ok()
    });
    Ok(WorkerHandle {
        stop,
        tasks,
        board,
        shutdown_timeout: ctx.config.shutdown_grace(),
        ctx,
    })
}
