//! `manage`: see `manage --help`. Exit status 0 on success, 1 on failure
//! (one line on stderr), 2 on a usage error (one line on stderr too).

use clap::Parser;
use clap::error::ErrorKind;
use domain::settings::{LogFilter, LogFormat};
use manage::Cli;
use manage::messages::one_line;
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    die_quietly_on_a_closed_pipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    let outcome = init_logging()
        .and_then(|()| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
        })
        .and_then(|runtime| runtime.block_on(manage::execute(cli)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// Help and version go out whole; a usage error is its first paragraph
/// on one line (clap adds a usage block and a "try --help" hint below it,
/// and lists missing arguments on lines of their own), status 2.
fn usage_error(error: &clap::Error) -> ExitCode {
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => error.exit(),
        _ => {
            eprintln!("{}", first_paragraph(&error.render().to_string()));
            ExitCode::from(2)
        }
    }
}

fn first_paragraph(rendered: &str) -> String {
    let words: Vec<&str> = rendered
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .flat_map(str::split_whitespace)
        .collect();
    if words.is_empty() {
        "error: bad usage".to_owned()
    } else {
        words.join(" ")
    }
}

/// `manage … | head` closes stdout early: end as a Unix tool does (killed
/// by SIGPIPE) rather than panicking in `println!` with a backtrace. Rust
/// ignores SIGPIPE by default.
#[allow(unsafe_code)]
fn die_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restores the default disposition of one signal, before any
    // other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Logs go to stderr (stdout is for data). `RUST_LOG` sets the level —
/// by default warnings for a person at a terminal, errors only for a
/// script, whose stderr then holds just the one-line reason of a failure —
/// and `LOG_FORMAT=json` switches to JSON lines. A bad value of either is
/// a failure, as in the services.
fn init_logging() -> anyhow::Result<()> {
    let interactive = std::io::stderr().is_terminal();
    let default = if interactive { "warn" } else { "error" };
    let filter: LogFilter = domain::settings::parsed(
        &domain::settings::ProcessEnv,
        "RUST_LOG",
        default.parse().expect("a valid default"),
    )?;
    let format: LogFormat =
        domain::settings::parsed(&domain::settings::ProcessEnv, "LOG_FORMAT", LogFormat::Text)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter.directives()))
        .with_writer(std::io::stderr)
        .with_ansi(interactive);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
    Ok(())
}
