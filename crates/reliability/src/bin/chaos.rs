//! `chaos [--smoke] [--seconds N]`: the fault-injection run of issue 8.
//! Starts its own PostgreSQL cluster and Redis server, the service's
//! binaries from `--bin-dir`, runs a load while injecting faults, settles,
//! checks every invariant and prints the figures; a full run (not
//! `--smoke`) also writes them into docs/reliability.md. Exit status 1
//! when anything was violated. `scripts/chaos` builds and runs it.

use clap::Parser;
use reliability::chaos::{self, ChaosOptions, report};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(name = "chaos", about = "Fault injection under load (issue 8, item 2)")]
struct Args {
    /// A short run for scripts/test (about 40 s of load).
    #[arg(long)]
    smoke: bool,
    /// Seconds of load (default 40 with --smoke, 300 otherwise).
    #[arg(long)]
    seconds: Option<u64>,
    /// Concurrent customers.
    #[arg(long, default_value_t = 6)]
    customers: usize,
    /// Where payments-api, payments-worker and stripe-emulator are.
    #[arg(long, default_value = "target/debug")]
    bin_dir: PathBuf,
    /// The document whose figures a full run rewrites.
    #[arg(long, default_value = "docs/reliability.md")]
    doc: PathBuf,
    /// Do not write the figures anywhere.
    #[arg(long)]
    no_doc: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let seconds = args.seconds.unwrap_or(if args.smoke { 40 } else { 300 });
    let load_for = Duration::from_secs(seconds);
    let work_dir = std::env::temp_dir().join(format!("chaos-{}", std::process::id()));
    let options = ChaosOptions {
        load_for,
        customers: args.customers.max(1),
        bin_dir: args.bin_dir.clone(),
        work_dir: work_dir.clone(),
        request_timeout: Duration::from_secs(15),
        // Every kind at least once in a smoke run.
        fault_every: (load_for / 11).clamp(Duration::from_secs(3), Duration::from_secs(15)),
    };
    // scripts/chaos says how it was called; run directly, argv does.
    let command = std::env::var("CHAOS_COMMAND")
        .unwrap_or_else(|_| std::env::args().collect::<Vec<_>>().join(" "));
    let summary = match chaos::run(&options).await {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!(
                "chaos: the run could not complete: {e:#} (logs in {})",
                work_dir.display()
            );
            return ExitCode::from(2);
        }
    };
    let figures = summary.render(&command);
    println!("{figures}");
    if !args.smoke && !args.no_doc {
        match std::fs::read_to_string(&args.doc)
            .ok()
            .and_then(|doc| report::splice(&doc, &figures))
        {
            Some(doc) => match std::fs::write(&args.doc, doc) {
                Ok(()) => eprintln!("chaos: figures written to {}", args.doc.display()),
                Err(e) => eprintln!("chaos: cannot write {}: {e}", args.doc.display()),
            },
            None => eprintln!(
                "chaos: {} has no {} … {} markers; figures not written",
                args.doc.display(),
                report::DOC_BEGIN,
                report::DOC_END
            ),
        }
    }
    if summary.violations().is_empty() {
        let _ = std::fs::remove_dir_all(&work_dir);
        ExitCode::SUCCESS
    } else {
        eprintln!("chaos: VIOLATIONS (logs kept in {})", work_dir.display());
        ExitCode::FAILURE
    }
}
