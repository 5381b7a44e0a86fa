//! Bringing a run to rest before the checks: webhooks delivered (held
//! ones flushed), jobs drained, every open payment's expiry passed, one
//! sweep run through the API, and the webhooks and jobs it caused drained
//! too. What "afterwards, with everything healthy" means in issue 8.

use crate::client::ApiClient;
use crate::emulator::EmulatorControl;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::db::DbPool;
use domain::models::task::{TaskRecord, TaskState};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// The sweep chain's next link (the newest PENDING one), as SQL: it is
/// scheduled minutes ahead and legitimately unfinished at any moment.
pub const NEXT_CHAIN_LINK: &str = "SELECT id FROM task_records \
     WHERE id LIKE 'sweep-chain:%' AND status = 'PENDING' ORDER BY created_at DESC LIMIT 1";

/// Webhook deliveries the emulator makes per event before giving up (its
/// default `webhook_max_attempts`).
pub const WEBHOOK_MAX_ATTEMPTS: u64 = 5;
/// Stored events younger than this are left to their jobs by the sweep
/// (`SweepOptions::event_grace`).
pub const SWEEP_EVENT_GRACE: Duration = Duration::from_secs(60);

pub struct Settle<'a> {
    pub api: &'a ApiClient,
    pub staff_token: &'a str,
    pub control: &'a EmulatorControl,
    pub pool: &'a DbPool,
    /// How long each wait may take before giving up (reported, then the
    /// checks say what was left undone).
    pub patience: Duration,
}

#[derive(Debug, Default, Clone)]
pub struct SettleReport {
    /// Waits that ran out of patience, and the sweep's task if it failed.
    pub problems: Vec<String>,
    pub sweep_task: Option<String>,
    pub duration: Duration,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Oldest {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    at: Option<OffsetDateTime>,
}

async fn count(conn: &mut AsyncPgConnection, query: &str) -> anyhow::Result<i64> {
    let rows: Vec<Count> = diesel::sql_query(query).load(conn).await?;
    Ok(rows.into_iter().next().map_or(0, |c| c.n))
}

impl Settle<'_> {
    pub async fn run(&self) -> anyhow::Result<SettleReport> {
        let started = Instant::now();
        let mut report = SettleReport::default();
        self.control.set_webhook_mode(false, None, 0).await?;
        self.control.flush_webhooks().await?;
        self.quiet(&mut report).await?;
        self.pass_every_expiry().await?;
        self.wait_event_grace().await?;
        match self.sweep().await? {
            Ok(task) => report.sweep_task = Some(task),
            Err(problem) => report.problems.push(problem),
        }
        self.quiet(&mut report).await?;
        report.duration = started.elapsed();
        Ok(report)
    }

    /// Webhooks delivered, then jobs drained.
    pub async fn quiet(&self, report: &mut SettleReport) -> anyhow::Result<()> {
        if let Err(left) = self.deliveries_done().await? {
            report.problems.push(left);
        }
        if let Err(left) = self.jobs_drained().await? {
            report.problems.push(left);
        }
        Ok(())
    }

    /// Every event emitted has been delivered, dropped on purpose, or
    /// given up after the emulator's attempts.
    async fn deliveries_done(&self) -> anyhow::Result<Result<(), String>> {
        let deadline = Instant::now() + self.patience;
        loop {
            let events: BTreeSet<String> = self
                .control
                .events()
                .await?
                .iter()
                .filter_map(|e| e["id"].as_str().map(str::to_owned))
                .collect();
            let mut settled: BTreeMap<String, bool> = BTreeMap::new();
            for d in self.control.deliveries().await? {
                let Some(id) = d["event_id"].as_str() else {
                    continue;
                };
                let done = d["delivered"] == true
                    || d["dropped"] == true
                    || d["attempt"].as_u64().unwrap_or(0) >= WEBHOOK_MAX_ATTEMPTS;
                *settled.entry(id.to_owned()).or_default() |= done;
            }
            let left: Vec<_> = events
                .iter()
                .filter(|e| !settled.get(*e).copied().unwrap_or(false))
                .collect();
            if left.is_empty() {
                return Ok(Ok(()));
            }
            if Instant::now() > deadline {
                return Ok(Err(format!(
                    "{} webhook events still undelivered after {:?}: {left:?}",
                    left.len(),
                    self.patience
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// No task record is PENDING, STARTED or RETRY.
    async fn jobs_drained(&self) -> anyhow::Result<Result<(), String>> {
        let deadline = Instant::now() + self.patience;
        loop {
            let open = {
                let mut conn = self.pool.get().await?;
                let query = format!(
                    "SELECT COUNT(*) AS n FROM task_records \
                     WHERE status NOT IN ('SUCCESS', 'FAILURE') AND id IS DISTINCT FROM ({NEXT_CHAIN_LINK})"
                );
                count(&mut conn, &query).await?
            };
            if open == 0 {
                return Ok(Ok(()));
            }
            if Instant::now() > deadline {
                return Ok(Err(format!(
                    "{open} jobs still unfinished after {:?}",
                    self.patience
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Time passes: every open payment's session is past its `expires_at`
    /// on our side, so the sweep must settle it with Stripe.
    async fn pass_every_expiry(&self) -> anyhow::Result<()> {
        let mut conn = self.pool.get().await?;
        diesel::sql_query(
            "UPDATE payments SET expires_at = now() - interval '1 minute' \
             WHERE status IN ('PENDING', 'FAILED')",
        )
        .execute(&mut conn)
        .await?;
        Ok(())
    }

    /// Stored events nobody processed (their job could not be enqueued)
    /// are the sweep's once older than its grace: wait that long.
    async fn wait_event_grace(&self) -> anyhow::Result<()> {
        let youngest: Vec<Oldest> = diesel::sql_query(
            "SELECT max(received_at) AS at FROM stripe_events WHERE processed_at IS NULL",
        )
        .load(&mut *self.pool.get().await?)
        .await?;
        if let Some(at) = youngest.into_iter().next().and_then(|o| o.at) {
            let age = OffsetDateTime::now_utc() - at;
            let grace = time::Duration::try_from(SWEEP_EVENT_GRACE)? + time::Duration::SECOND;
            if age < grace {
                let wait = Duration::try_from(grace - age)?;
                tracing_note(&format!(
                    "waiting {wait:?} for unprocessed webhook events to pass the sweep's grace"
                ));
                tokio::time::sleep(wait).await;
            }
        }
        Ok(())
    }

    /// One sweep through `POST /api/payments/check_expired_sessions/`,
    /// waited for. `Ok(Err)`: it did not succeed (why).
    async fn sweep(&self) -> anyhow::Result<Result<String, String>> {
        let deadline = Instant::now() + self.patience;
        let reply = loop {
            match self.api.check_expired_sessions(self.staff_token).await {
                Ok(reply) if reply.status == 202 => break reply,
                other if Instant::now() > deadline => {
                    return Ok(Err(format!("the final sweep could not start: {other:?}")));
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        };
        let Some(task) = reply.str("task_id").map(str::to_owned) else {
            return Ok(Err(format!("sweep answer without task_id: {}", reply.body)));
        };
        loop {
            let record = TaskRecord::find(&mut *self.pool.get().await?, &task).await?;
            match record.as_ref().map(TaskRecord::state) {
                Some(TaskState::Success) => return Ok(Ok(task)),
                Some(TaskState::Failure) => {
                    return Ok(Err(format!("the final sweep failed: {record:?}")));
                }
                _ if Instant::now() > deadline => {
                    return Ok(Err(format!(
                        "the final sweep did not finish within {:?}: {record:?}",
                        self.patience
                    )));
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

fn tracing_note(text: &str) {
    eprintln!("settle: {text}");
}
