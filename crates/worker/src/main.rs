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

#[tokio::main]
async fn main() -> ExitCode {
    let config = match WorkerConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("payments-worker: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format);
    worker::metrics::install();
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
    tracing::info!(target: "payments", board = ?handle.board_addr(), "payments-worker running");
    shutdown_signal().await;
    tracing::info!(target: "payments", "shutting down: finishing in-flight jobs");
    if handle.shutdown().await {
        tracing::info!(target: "payments", "payments-worker stopped");
    }
    ExitCode::SUCCESS
}
