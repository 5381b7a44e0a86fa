//! Sweep runs and their per-payment outcomes. The latest chain run is the
//! sweep's heartbeat: last run, outcome, next run.

use crate::schema::{sweep_outcomes, sweep_runs};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
#[diesel(table_name = sweep_runs, check_for_backend(diesel::pg::Pg))]
pub struct SweepRun {
    pub id: Uuid,
    pub trigger: String,
    pub task_id: Option<String>,
    pub force: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    pub outcome: String,
    pub found: i32,
    pub cancelled: i32,
    pub completed: i32,
    pub still_open: i32,
    pub expired_in_stripe: i32,
    pub expiries_retried: i32,
    pub events_processed: i32,
    pub errors: i32,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_run_at: Option<OffsetDateTime>,
    /// Stored events for a session the service does not know (yet).
    pub events_waiting: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
#[diesel(table_name = sweep_outcomes, check_for_backend(diesel::pg::Pg))]
pub struct SweepOutcomeRow {
    pub run_id: Uuid,
    pub payment_id: Option<Uuid>,
    pub event_id: Option<String>,
    pub action: String,
    pub detail: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The `error` of a run closed by [`SweepRun::close_interrupted`].
pub const INTERRUPTED: &str = "interrupted: its worker stopped before the run finished";

impl SweepRun {
    pub async fn start(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        trigger: &str,
        task_id: Option<&str>,
        force: bool,
    ) -> QueryResult<()> {
        diesel::insert_into(sweep_runs::table)
            .values((
                sweep_runs::id.eq(id),
                sweep_runs::trigger.eq(trigger),
                sweep_runs::task_id.eq(task_id),
                sweep_runs::force.eq(force),
            ))
            .execute(conn)
            .await
            .map(drop)
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Self>> {
        sweep_runs::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The most recent run of the chain: the heartbeat the dead-man switch
    /// watches.
    pub async fn latest_chain_run(conn: &mut AsyncPgConnection) -> QueryResult<Option<Self>> {
        sweep_runs::table
            .filter(sweep_runs::trigger.eq("chain"))
            .order(sweep_runs::started_at.desc())
            .select(Self::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn recent(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<Self>> {
        sweep_runs::table
            .order(sweep_runs::started_at.desc())
            .limit(limit)
            .select(Self::as_select())
            .load(conn)
            .await
    }

    /// Sets when the chain's next run is due (after the run scheduled it).
    pub async fn set_next_run(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        next_run_at: OffsetDateTime,
    ) -> QueryResult<()> {
        diesel::update(sweep_runs::table.find(id))
            .set(sweep_runs::next_run_at.eq(next_run_at))
            .execute(conn)
            .await
            .map(drop)
    }

    /// Closes as `error` the runs still `running` that started before
    /// `started_before`: their worker died (SIGKILL, OOM) before the run
    /// could finish, and nothing else would ever close them. Answers the
    /// ids closed.
    pub async fn close_interrupted(
        conn: &mut AsyncPgConnection,
        started_before: OffsetDateTime,
    ) -> QueryResult<Vec<Uuid>> {
        diesel::update(
            sweep_runs::table
                .filter(sweep_runs::outcome.eq("running"))
                .filter(sweep_runs::finished_at.is_null())
                .filter(sweep_runs::started_at.lt(started_before)),
        )
        .set((
            sweep_runs::finished_at.eq(OffsetDateTime::now_utc()),
            sweep_runs::outcome.eq("error"),
            sweep_runs::error.eq(INTERRUPTED),
        ))
        .returning(sweep_runs::id)
        .get_results(conn)
        .await
    }

    pub async fn outcomes_for_payment(
        conn: &mut AsyncPgConnection,
        payment_id: Uuid,
    ) -> QueryResult<Vec<SweepOutcomeRow>> {
        sweep_outcomes::table
            .filter(sweep_outcomes::payment_id.eq(payment_id))
            .order(sweep_outcomes::id.asc())
            .select(SweepOutcomeRow::as_select())
            .load(conn)
            .await
    }

    pub async fn outcomes(
        conn: &mut AsyncPgConnection,
        run_id: Uuid,
    ) -> QueryResult<Vec<SweepOutcomeRow>> {
        sweep_outcomes::table
            .filter(sweep_outcomes::run_id.eq(run_id))
            .order(sweep_outcomes::id.asc())
            .select(SweepOutcomeRow::as_select())
            .load(conn)
            .await
    }
}

pub async fn record_outcome(
    conn: &mut AsyncPgConnection,
    run_id: Uuid,
    payment_id: Option<Uuid>,
    event_id: Option<&str>,
    action: &str,
    detail: &serde_json::Value,
) -> QueryResult<()> {
    diesel::insert_into(sweep_outcomes::table)
        .values((
            sweep_outcomes::run_id.eq(run_id),
            sweep_outcomes::payment_id.eq(payment_id),
            sweep_outcomes::event_id.eq(event_id),
            sweep_outcomes::action.eq(action),
            sweep_outcomes::detail.eq(detail),
        ))
        .execute(conn)
        .await
        .map(drop)
}
