//! Logging (tracing, target `payments`, text or JSON), also streamed to
//! apalis-board's log view.

use crate::config::{LogFilter, LogFormat};
use apalis_board::actix::sse::{TracingBroadcaster, TracingSubscriber};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, OnceLock};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt, registry};

static BROADCASTER: OnceLock<Arc<Mutex<TracingBroadcaster>>> = OnceLock::new();

/// Where log lines go for the board's `/api/v1/events` stream.
pub fn broadcaster() -> Arc<Mutex<TracingBroadcaster>> {
    BROADCASTER.get_or_init(TracingBroadcaster::create).clone()
}

/// Installs the global subscriber, filtered by `RUST_LOG` (checked when
/// the configuration was read).
pub fn init(format: LogFormat, filter: &LogFilter) {
    let filter = EnvFilter::new(filter.directives());
    let console = match format {
        // Colour codes only for a person at a terminal, not in log files.
        LogFormat::Text => fmt::layer()
            .with_ansi(std::io::stdout().is_terminal())
            .boxed(),
        LogFormat::Json => fmt::layer().json().flatten_event(true).boxed(),
    };
    let board = TracingSubscriber::new(&broadcaster()).layer();
    let _ = registry().with(console).with(board).with(filter).try_init();
}
