//! The fault injector: one fault after another, round-robin over every
//! kind issue 8 names, while the load runs.

use super::ChaosOptions;
use super::procs::{Cluster, Services};
use crate::emulator::EmulatorControl;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// (a) Redis killed and started again (empty: no persistence).
    RedisRestart,
    /// (b) `pg_terminate_backend` of every connection of ours.
    PostgresBackendsKilled,
    /// (b) PostgreSQL stopped for a few seconds.
    PostgresStopped,
    /// (c) The worker SIGKILLed mid-work and started again.
    WorkerKilled,
    /// (d) Stripe answers 500.
    Stripe5xx,
    /// (d) Stripe answers 429 with `Retry-After`.
    Stripe429,
    /// (d) Stripe answers after 3 s.
    StripeSlow,
    /// (e) Every webhook delivered twice.
    WebhooksDuplicated,
    /// (e) Webhooks held in batches of 3 and delivered newest first.
    WebhooksReordered,
    /// (e) The next 3 webhooks never delivered.
    WebhooksDropped,
}

pub const ALL: [Fault; 10] = [
    Fault::RedisRestart,
    Fault::Stripe5xx,
    Fault::PostgresBackendsKilled,
    Fault::WebhooksDuplicated,
    Fault::WorkerKilled,
    Fault::Stripe429,
    Fault::PostgresStopped,
    Fault::WebhooksReordered,
    Fault::StripeSlow,
    Fault::WebhooksDropped,
];

pub type FaultCounts = BTreeMap<Fault, u64>;

pub struct Injector {
    control: EmulatorControl,
    every: Duration,
}

impl Injector {
    pub fn new(control: EmulatorControl, every: Duration) -> Self {
        Self { control, every }
    }

    /// Injects faults for `duration`, and at least every kind once (the
    /// load runs until the injector is done), then undoes the lasting ones.
    pub async fn run(
        &self,
        services: &mut Services,
        cluster: &Cluster,
        options: &ChaosOptions,
        duration: Duration,
    ) -> anyhow::Result<FaultCounts> {
        let end = Instant::now() + duration;
        let mut counts = FaultCounts::new();
        let mut next = 0;
        // Let the load get going first.
        tokio::time::sleep(self.every.min(duration / 4)).await;
        while next < ALL.len() || Instant::now() + self.every / 2 < end {
            let fault = ALL[next % ALL.len()];
            next += 1;
            eprintln!("chaos: injecting {fault:?}");
            self.inject(fault, services, cluster, options).await?;
            *counts.entry(fault).or_default() += 1;
            let wait = self
                .every
                .min(end.saturating_duration_since(Instant::now()));
            tokio::time::sleep(wait).await;
            // Webhook misbehaviour lasts one period.
            self.control.set_webhook_mode(false, None, 0).await?;
            self.control.flush_webhooks().await?;
        }
        Ok(counts)
    }

    async fn inject(
        &self,
        fault: Fault,
        services: &mut Services,
        cluster: &Cluster,
        options: &ChaosOptions,
    ) -> anyhow::Result<()> {
        let stripe = |body: serde_json::Value| self.control.add_fault(body);
        match fault {
            Fault::RedisRestart => cluster.restart_redis(Duration::from_secs(2)).await?,
            Fault::PostgresBackendsKilled => {
                let n = cluster.terminate_backends().await?;
                eprintln!("chaos: terminated {n} PostgreSQL backends");
            }
            Fault::PostgresStopped => {
                cluster.stop_postgres().await?;
                tokio::time::sleep(Duration::from_secs(3)).await;
                cluster.start_postgres().await?;
            }
            Fault::WorkerKilled => {
                services.kill_worker();
                tokio::time::sleep(Duration::from_secs(1)).await;
                services.restart_worker(options, cluster)?;
            }
            Fault::Stripe5xx => stripe(json!({ "count": 8, "status": 500 })).await?,
            Fault::Stripe429 => {
                stripe(json!({ "count": 8, "status": 429, "retry_after": 1 })).await?;
            }
            Fault::StripeSlow => stripe(json!({ "count": 4, "delay_ms": 3000 })).await?,
            Fault::WebhooksDuplicated => self.control.set_webhook_mode(true, None, 0).await?,
            Fault::WebhooksReordered => self.control.set_webhook_mode(false, Some(3), 0).await?,
            Fault::WebhooksDropped => self.control.set_webhook_mode(false, None, 3).await?,
        }
        Ok(())
    }
}
