//! Logging through `tracing` (target `payments`), as text or JSON; every
//! request runs in its `request{request_id, path}` span
//! (`middleware::request_span`).

use crate::config::{LogFilter, LogFormat};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber, filtered by `RUST_LOG` (checked when
/// the configuration was read).
pub fn init(format: LogFormat, filter: &LogFilter) {
    let filter = EnvFilter::new(filter.directives());
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match format {
        LogFormat::Json => registry
            .with(
                // Flat, as the worker and `manage` write it: one shape
                // for every service's lines in a log collector.
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .try_init(),
        // Colour codes only for a person at a terminal: in files and log
        // collectors they are noise (and formatting them costs CPU on
        // every request's span).
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_ansi(std::io::stdout().is_terminal()))
            .try_init(),
    };
    if installed.is_err() {
        tracing::debug!("a tracing subscriber was already installed");
    }
}
