//! `payments-worker`: consumes the payments and sweep queues, keeps the
//! sweep chain alive and serves the board, until SIGTERM or SIGINT.

use std::process::ExitCode;
use worker::{WorkerConfig, build_context, start, telemetry};

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("payments-worker: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run());
    // Dropping a runtime waits for every blocking call still running; one
    // stuck on I/O must not keep a stopped worker alive.
    runtime.shutdown_timeout(EXIT_GRACE);
    code
}

/// How long a stopped worker waits for stray blocking calls before exiting.
const EXIT_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

async fn run() -> ExitCode {
    let config = match WorkerConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("payments-worker: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format, &config.log_filter);
    if config.shutdown_grace() < config.shutdown_timeout {
        tracing::warn!(target: "payments",
            grace_secs = config.shutdown_grace().as_secs(),
            "WORKER_SHUTDOWN_TIMEOUT_SECS is longer than WORKER_HEARTBEAT_SECS × \
             WORKER_MISSED_HEARTBEATS less one heartbeat: in-flight jobs get only \
             the shorter grace, so that no other worker runs them at the same time");
    }
    worker::metrics::install();
    let queue_prefix = config.queue_prefix.clone();
    let ctx = match build_context(config).await {
        Ok(ctx) => ctx,
        Err(e) => {
            tracing::error!(target: "payments", error = %e, "payments-worker cannot start");
            return ExitCode::FAILURE;
        }
    };
    let handle = match start(ctx).await {
        Ok(handle) => handle,
        Err(e) => {
            tracing::error!(target: "payments", error = %e, "payments-worker cannot start");
            return ExitCode::FAILURE;
        }
    };
    // The prefix, because a worker on the wrong one looks idle, not broken.
    tracing::info!(target: "payments", board = handle.board_addr().map(tracing::field::display),
        queue_prefix = queue_prefix.as_str(), "payments-worker running");
    shutdown_signal().await;
    tracing::info!(target: "payments", "shutting down: finishing in-flight jobs");
    if handle.shutdown().await {
        tracing::info!(target: "payments", "payments-worker stopped");
    }
    ExitCode::SUCCESS
}
