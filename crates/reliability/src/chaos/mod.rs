//! The fault-injection run (issue 8, item 2) behind the `chaos` binary:
//! the real `payments-api`, `payments-worker` and `stripe-emulator`
//! binaries on a PostgreSQL cluster and a Redis server of the run's own
//! (so they can be stopped without touching anyone else's), a load of
//! checkouts, payments, cancels and webhook redeliveries, and a fault
//! injector. Afterwards the run is settled and checked like a model case.

pub mod faults;
pub mod load;
pub mod procs;
pub mod report;

use crate::checks::{FailedJobs, check_everything};
use crate::client::ApiClient;
use crate::emulator::EmulatorControl;
use crate::settle::Settle;
use crate::stack::stripe_client;
use crate::world::World;
use domain::db::{self, run_migrations};
use faults::{FaultCounts, Injector};
use load::{Load, LoadCounts};
use procs::{Cluster, Services};
use report::Summary;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub const WEBHOOK_SECRET: &str = "whsec_chaos";
pub const STRIPE_KEY: &str = "sk_test_chaos";

#[derive(Debug, Clone)]
pub struct ChaosOptions {
    /// How long the load runs while faults are injected.
    pub load_for: Duration,
    /// Concurrent customers.
    pub customers: usize,
    /// Where `payments-api`, `payments-worker` and `stripe-emulator` are.
    pub bin_dir: PathBuf,
    /// Scratch space for the cluster, logs and pid files.
    pub work_dir: PathBuf,
    /// Each request's budget: no answer within it counts as a hang.
    pub request_timeout: Duration,
    /// Pause between two injected faults.
    pub fault_every: Duration,
}

pub async fn run(options: &ChaosOptions) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let cluster = Cluster::start(&options.work_dir).await?;
    let result = run_on(options, &cluster, started).await;
    cluster.stop().await;
    result
}

async fn run_on(
    options: &ChaosOptions,
    cluster: &Cluster,
    started: Instant,
) -> anyhow::Result<Summary> {
    run_migrations(&cluster.database_url()).await?;
    let pool = db::pool(&cluster.database_url(), 8, Duration::from_secs(10));
    let world = World::seed(&mut *pool.get().await?, options.customers, 1_000_000, 50).await;
    let mut services = Services::start(options, cluster).await?;
    let api = ApiClient::new(services.api_base(), options.request_timeout);
    let control = EmulatorControl::new(services.emulator_base());
    services.wait_ready(&api, &control).await?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let load = Arc::new(Load::new(api.clone(), control.clone(), world.clone()));
    let mut workers = Vec::new();
    for customer in 0..options.customers {
        workers.push(tokio::spawn(
            load.clone().customer(customer, stop_rx.clone()),
        ));
    }
    let injector = Injector::new(control.clone(), options.fault_every);
    let faults = injector
        .run(&mut services, cluster, options, options.load_for)
        .await;
    let _ = stop_tx.send(true);
    for w in workers {
        w.await?;
    }
    let faults: FaultCounts = faults?;
    let load_counts: LoadCounts = load.counts().await;
    let unclear = load.unclear().await;

    // Everything healthy again, then settle and check.
    services.ensure_running(options, cluster).await?;
    control.clear_faults().await?;
    services.wait_ready(&api, &control).await?;
    let settled = Settle {
        api: &api,
        staff_token: &world.staff,
        control: &control,
        pool: &pool,
        patience: Duration::from_secs(120),
    }
    .run()
    .await?;
    let facts = control.facts().await?;
    let gateway = stripe_client(services.emulator_base());
    let findings = check_everything(
        &mut *pool.get().await?,
        gateway.as_ref(),
        &facts,
        FailedJobs::AreNotes,
    )
    .await?;
    let tables = report::table_counts(&mut *pool.get().await?).await?;
    services.stop().await;
    Ok(Summary {
        load: load_counts,
        unclear,
        faults,
        settle: settled,
        findings,
        tables,
        duration: started.elapsed(),
        load_for: options.load_for,
        customers: options.customers,
    })
}
