//! `payments-api`: reads the configuration once, then serves until
//! SIGTERM/SIGINT (graceful shutdown).

use api::{Application, Settings, memory, telemetry};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    memory::return_large_blocks_to_the_os();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("payments-api: configuration error: {e}");
            std::process::exit(2);
        }
    };
    telemetry::init(settings.log_format, &settings.log_filter);
    tracing::info!(target: "payments", bind = %settings.api_bind, env = settings.app_env.as_str(),
        queue_prefix = settings.queue_prefix.as_str(),
        "starting payments-api");
    let app = match Application::build(settings) {
        Ok(app) => app,
        Err(e) => {
            // One line with its causes (`{:#}`), as an operator's log
            // search and a container's last message want it.
            tracing::error!(target: "payments", error = format!("{e:#}"), "payments-api cannot start");
            eprintln!("payments-api: cannot start: {e:#}");
            std::process::exit(1);
        }
    };
    app.run_until_stopped().await?;
    tracing::info!(target: "payments", "payments-api stopped");
    Ok(())
}
