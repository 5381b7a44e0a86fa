//! Starting and stopping the emulator, and in-process access for tests.

use crate::app::App;
use crate::config::EmulatorConfig;
use crate::error::{ApiError, EmulatorError};
use crate::faults::Fault;
use crate::idempotency::KeySeen;
use crate::routes;
use crate::state::{PayOutcome, RequestRecord, State};
use crate::webhooks::{DeliveryConfig, DeliveryRecord, Mode, WebhookHub};
use actix_web::dev::ServerHandle;
use actix_web::{App as ActixApp, HttpServer, web};
use serde_json::Value;
use std::net::{SocketAddr, TcpListener};
use tokio::task::JoinHandle;

pub struct Emulator;

impl Emulator {
    /// Checks the configuration, binds, starts serving on the current tokio
    /// runtime, and returns at once.
    pub async fn start(config: EmulatorConfig) -> Result<EmulatorHandle, EmulatorError> {
        config.validate()?;
        let listener = TcpListener::bind(config.bind).map_err(|source| EmulatorError::Bind {
            addr: config.bind.to_string(),
            source,
        })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: config.bind.to_string(),
                source,
            })?;
        let base_url = format!("http://{addr}");
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| base_url.clone());
        let hub = WebhookHub::start(
            DeliveryConfig {
                secret: config.webhook_secret.clone(),
                max_attempts: config.webhook_max_attempts.max(1),
                base_backoff: config.webhook_backoff,
                max_backoff: config.webhook_max_backoff,
                timeout: config.webhook_timeout,
            },
            config.webhook_urls.clone(),
        );
        let app = web::Data::new(App::new(
            State::new(public_url),
            hub,
            config.api_key.clone(),
        ));
        let server_app = app.clone();
        let server = HttpServer::new(move || {
            ActixApp::new()
                .app_data(server_app.clone())
                .configure(routes::configure)
        })
        .workers(config.workers.max(1))
        .disable_signals()
        .listen(listener)
        .map_err(|source| EmulatorError::Bind {
            addr: addr.to_string(),
            source,
        })?
        .run();
        let server_handle = server.handle();
        let server_task = tokio::spawn(server);
        let tick_app = app.clone();
        let tick = config.tick;
        let tick_task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            loop {
                interval.tick().await;
                let expired = tick_app.mutate(State::expire_due_sessions);
                if !expired.is_empty() {
                    tracing::info!(?expired, "sessions expired");
                }
            }
        });
        tracing::info!(%addr, "stripe emulator listening");
        Ok(EmulatorHandle {
            addr,
            base_url,
            app,
            server_handle,
            server_task: Some(server_task),
            tick_task,
        })
    }
}

/// A running emulator. Dropping it stops the server (without waiting);
/// [`EmulatorHandle::stop`] stops it and waits.
pub struct EmulatorHandle {
    addr: SocketAddr,
    base_url: String,
    app: web::Data<App>,
    server_handle: ServerHandle,
    server_task: Option<JoinHandle<std::io::Result<()>>>,
    tick_task: JoinHandle<()>,
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.tick_task.abort();
        // The stop command is sent when `stop` is called; the returned
        // future only waits for it to finish.
        drop(self.server_handle.stop(false));
    }
}

impl EmulatorHandle {
    /// `http://127.0.0.1:{port}`: the API base URL for clients.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// # Panics
    ///
    /// When the fault's status is not an error status (4xx or 5xx), as
    /// `POST /_emulator/faults` refuses it.
    pub fn inject_fault(&self, fault: Fault) {
        if let Err(refused) = fault.check() {
            panic!("{}", refused.message);
        }
        self.app.lock().faults.push(fault);
    }

    /// Moves the clock forward; returns the sessions that expired.
    pub fn advance_clock(&self, seconds: i64) -> Vec<String> {
        self.app.mutate(|state| {
            state.clock.advance(seconds);
            state.expire_due_sessions()
        })
    }

    pub fn now(&self) -> i64 {
        self.app.lock().now()
    }

    pub fn expire_session(&self, id: &str) -> Result<Value, ApiError> {
        self.app.mutate(|state| state.expire_session(id))
    }

    pub fn pay_session(&self, id: &str, outcome: PayOutcome) -> Result<Value, ApiError> {
        self.app.mutate(|state| state.pay_session(id, outcome))
    }

    pub fn idempotency_keys(&self) -> Vec<KeySeen> {
        self.app.lock().idempotency.seen().to_vec()
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.app.lock().requests.clone()
    }

    pub fn events(&self) -> Vec<Value> {
        self.app.lock().events.clone()
    }

    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.app.hub.records()
    }

    pub fn set_webhook_mode(&self, mode: Mode) {
        self.app.hub.set_mode(mode);
    }

    /// # Panics
    ///
    /// When `url` cannot receive webhooks (see
    /// [`crate::config::check_webhook_url`]), as
    /// `POST /_emulator/webhooks/endpoints` refuses it.
    pub fn add_webhook_url(&self, url: impl Into<String>) {
        let url = url.into();
        if let Err(reason) = crate::config::check_webhook_url(&url) {
            panic!("{reason}");
        }
        self.app.hub.add_url(url);
    }

    /// Serves until the server stops (the binary's main loop).
    pub async fn wait(mut self) -> std::io::Result<()> {
        let Some(task) = self.server_task.take() else {
            return Ok(());
        };
        task.await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    pub async fn stop(mut self) {
        self.tick_task.abort();
        self.server_handle.stop(true).await;
        if let Some(task) = self.server_task.take() {
            let _ = task.await;
        }
    }

    /// Stops the server when `.stop(true).await` is called on it, e.g. from
    /// a signal handler while [`EmulatorHandle::wait`] runs.
    pub fn shutdown_handle(&self) -> ServerHandle {
        self.server_handle.clone()
    }
}
