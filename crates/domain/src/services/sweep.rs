//! The sweep (SPEC §5.4): reconcile open payments whose session has
//! expired with what Stripe says, retry Stripe-side expiries that failed
//! during cancellations, and process stored events nobody processed.
//! Scheduling (the chain) is the worker's job; this is one run.

use super::cancel::release;
use super::complete::{CompletionAction, complete_payment};
use super::events::{EventParser, knows_payment_of, process_stored_event};
use super::stripe_side::{StripeSide, close_session};
use crate::audit::{Actor, AuditSource};
use crate::db::DbPool;
use crate::error::DomainError;
use crate::gateway::{CheckoutSession, GatewayError, SessionStatus, StripeGateway};
use crate::jobs::SweepTrigger;
use crate::models::payment::{Payment, SessionMirror};
use crate::models::stripe_event::StoredEvent;
use crate::models::sweep_run::{SweepRun, record_outcome};
use crate::schema::sweep_runs;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures::{StreamExt, stream};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub trigger: SweepTrigger,
    pub task_id: Option<String>,
    /// Look and report; change nothing anywhere.
    pub dry_run: bool,
    /// Also close open sessions older than `session_ttl`, whatever their
    /// `expires_at`.
    pub force: bool,
    pub session_ttl: Duration,
    /// Stripe calls in flight at once.
    pub concurrency: usize,
    /// Most payments (and events) handled per run; the rest wait for the next.
    pub batch_limit: i64,
    /// Events younger than this are left to their own jobs.
    pub event_grace: Duration,
}

impl SweepOptions {
    pub fn new(trigger: SweepTrigger) -> Self {
        Self {
            trigger,
            task_id: None,
            dry_run: false,
            force: false,
            session_ttl: Duration::from_secs(1800),
            concurrency: 4,
            batch_limit: 500,
            event_grace: Duration::from_secs(60),
        }
    }
}

/// One thing the sweep did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepAction {
    pub payment_id: Option<Uuid>,
    pub event_id: Option<String>,
    /// `cancelled`, `completed`, `expired_in_stripe_and_cancelled`,
    /// `still_open`, `expiry_retried`, `refunded_late_payment`,
    /// `event_processed`, `event_waiting` (its session is unknown here:
    /// kept and retried, not an error), `error` — prefixed `would_` in a
    /// dry run.
    pub action: String,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SweepReport {
    pub run_id: Option<Uuid>,
    pub dry_run: bool,
    pub found: i32,
    pub cancelled: i32,
    pub completed: i32,
    pub still_open: i32,
    pub expired_in_stripe: i32,
    pub expiries_retried: i32,
    pub events_processed: i32,
    pub events_waiting: i32,
    pub errors: i32,
    pub actions: Vec<SweepAction>,
}

impl SweepReport {
    /// It found something to fix: the chain comes back sooner.
    pub fn fixed_anything(&self) -> bool {
        self.cancelled + self.completed + self.expiries_retried + self.events_processed > 0
    }

    pub fn outcome(&self) -> &'static str {
        if self.errors > 0 {
            "error"
        } else if self.fixed_anything() {
            "fixed"
        } else {
            "idle"
        }
    }

    fn count(&mut self, action: &SweepAction) {
        let name = action.action.trim_start_matches("would_");
        match name {
            "cancelled" => self.cancelled += 1,
            "completed" => self.completed += 1,
            "expired_in_stripe_and_cancelled" => {
                self.expired_in_stripe += 1;
                self.cancelled += 1;
            }
            "still_open" => self.still_open += 1,
            "expiry_retried" | "refunded_late_payment" => self.expiries_retried += 1,
            "event_processed" => self.events_processed += 1,
            "event_waiting" => self.events_waiting += 1,
            _ => self.errors += 1,
        }
    }
}

/// Progress for long runs: (done, total) over the expired candidates.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Send + Sync);

fn action(
    payment: Option<Uuid>,
    name: &str,
    dry_run: bool,
    detail: serde_json::Value,
) -> SweepAction {
    SweepAction {
        payment_id: payment,
        event_id: None,
        action: if dry_run {
            format!("would_{name}")
        } else {
            name.to_owned()
        },
        detail,
    }
}

/// Reads a session, waiting out Stripe's 429s a few times.
async fn retrieve_session(
    gateway: &dyn StripeGateway,
    id: &str,
) -> Result<CheckoutSession, GatewayError> {
    let mut waits = 0;
    loop {
        match gateway.retrieve_checkout_session(id).await {
            Err(GatewayError::RateLimited { retry_after }) if waits < 3 => {
                waits += 1;
                let wait = retry_after
                    .unwrap_or(Duration::from_secs(1))
                    .min(Duration::from_secs(30));
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}

async fn reconcile(
    conn: &mut AsyncPgConnection,
    gateway: &dyn StripeGateway,
    payment: &Payment,
    actor: &Actor,
    dry_run: bool,
) -> Result<SweepAction, DomainError> {
    let id = Some(payment.id.0);
    let Some(session_id) = payment.stripe_session_id.as_deref() else {
        let detail = json!({ "reason": "no checkout session" });
        if !dry_run {
            release(conn, payment.id, actor, None, None).await?;
        }
        return Ok(action(id, "cancelled", dry_run, detail));
    };
    let session = match retrieve_session(gateway, session_id).await {
        Ok(session) => session,
        Err(GatewayError::NotFound(_)) => {
            if !dry_run {
                release(conn, payment.id, actor, None, None).await?;
            }
            return Ok(action(
                id,
                "cancelled",
                dry_run,
                json!({ "reason": "session unknown to Stripe" }),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let detail = json!({ "session_id": session.id, "session_status": session.status.as_str(),
                         "payment_status": session.payment_status.as_str() });
    if session.is_paid() {
        if !dry_run {
            complete_payment(conn, gateway, &session, actor).await?;
        }
        return Ok(action(id, "completed", dry_run, detail));
    }
    match session.status {
        SessionStatus::Expired => {
            if !dry_run {
                release(conn, payment.id, actor, Some(&session), None).await?;
            }
            Ok(action(id, "cancelled", dry_run, detail))
        }
        SessionStatus::Open if dry_run => {
            Ok(action(id, "expired_in_stripe_and_cancelled", true, detail))
        }
        SessionStatus::Open => match close_session(gateway, payment).await {
            StripeSide::Closed(closed) => {
                release(conn, payment.id, actor, closed.as_ref(), None).await?;
                Ok(action(id, "expired_in_stripe_and_cancelled", false, detail))
            }
            StripeSide::Paid(paid) => {
                complete_payment(conn, gateway, &paid, actor).await?;
                Ok(action(id, "completed", false, detail))
            }
            StripeSide::Unreachable(e) => Err(e.into()),
        },
        // Complete but unpaid: a delayed payment method is still settling.
        _ => {
            if !dry_run {
                Payment::store_mirror(conn, payment.id, &SessionMirror::from(&session)).await?;
            }
            Ok(action(id, "still_open", dry_run, detail))
        }
    }
}

async fn retry_stripe_expiry(
    conn: &mut AsyncPgConnection,
    gateway: &dyn StripeGateway,
    payment: &Payment,
    actor: &Actor,
    dry_run: bool,
) -> Result<SweepAction, DomainError> {
    let id = Some(payment.id.0);
    if dry_run {
        return Ok(action(
            id,
            "expiry_retried",
            true,
            json!({ "session_id": payment.stripe_session_id }),
        ));
    }
    match close_session(gateway, payment).await {
        StripeSide::Closed(session) => {
            if let Some(session) = &session {
                Payment::store_mirror(conn, payment.id, &SessionMirror::from(session)).await?;
            }
            Payment::set_expire_pending(conn, payment.id, false).await?;
            Ok(action(
                id,
                "expiry_retried",
                false,
                json!({ "session_id": payment.stripe_session_id }),
            ))
        }
        StripeSide::Paid(session) => {
            let done = complete_payment(conn, gateway, &session, actor).await?;
            Payment::set_expire_pending(conn, payment.id, false).await?;
            let name = if done.action == CompletionAction::RefundedLatePayment {
                "refunded_late_payment"
            } else {
                "expiry_retried"
            };
            Ok(action(id, name, false, json!({ "session_id": session.id })))
        }
        StripeSide::Unreachable(e) => Err(e.into()),
    }
}

fn error_action(payment: Option<Uuid>, event: Option<&str>, e: &DomainError) -> SweepAction {
    SweepAction {
        payment_id: payment,
        event_id: event.map(str::to_owned),
        action: "error".into(),
        detail: json!({ "error": e.to_string(), "transient": e.is_transient() }),
    }
}

/// A checkout stores its session within seconds (the API gives Stripe 6 s);
/// an open payment still without one after this died between its
/// reservation and Stripe's answer. Nobody was given a URL to pay it, and
/// it has no `expires_at`, so without this its stock stayed reserved for
/// good (black-box adversary: API killed mid-checkout).
const ABANDONED_CHECKOUT: time::Duration = time::Duration::minutes(10);

async fn candidates(
    conn: &mut AsyncPgConnection,
    opts: &SweepOptions,
) -> Result<Vec<Payment>, DomainError> {
    let now = OffsetDateTime::now_utc();
    let mut found: BTreeMap<Uuid, Payment> = Payment::open_and_expired(conn, now, opts.batch_limit)
        .await?
        .into_iter()
        .map(|p| (p.id.0, p))
        .collect();
    for p in Payment::open_without_session(conn, now - ABANDONED_CHECKOUT, opts.batch_limit).await?
    {
        found.entry(p.id.0).or_insert(p);
    }
    if opts.force {
        let ttl = time::Duration::try_from(opts.session_ttl).unwrap_or(time::Duration::MINUTE * 30);
        for p in Payment::open_created_before(conn, now - ttl, opts.batch_limit).await? {
            found.entry(p.id.0).or_insert(p);
        }
    }
    Ok(found.into_values().collect())
}

/// One sweep run. Every run that is not a dry run is recorded in
/// `sweep_runs` with its per-payment outcomes.
pub async fn run_sweep(
    pool: &DbPool,
    gateway: &dyn StripeGateway,
    parser: &dyn EventParser,
    opts: &SweepOptions,
    progress: Option<Progress<'_>>,
) -> Result<SweepReport, DomainError> {
    let mut conn = pool.get().await?;
    let mut report = SweepReport {
        dry_run: opts.dry_run,
        ..SweepReport::default()
    };
    if !opts.dry_run {
        let run_id = Uuid::now_v7();
        SweepRun::start(
            &mut conn,
            run_id,
            opts.trigger.as_str(),
            opts.task_id.as_deref(),
            opts.force,
        )
        .await?;
        report.run_id = Some(run_id);
    }
    let actor = Actor::new(
        AuditSource::Sweep,
        report
            .run_id
            .map_or_else(|| "dry-run".to_owned(), |id| format!("sweep:{id}")),
    );
    let result = sweep_steps(
        pool,
        &mut conn,
        gateway,
        parser,
        opts,
        &actor,
        &mut report,
        progress,
    )
    .await;
    if let Some(run_id) = report.run_id {
        finish(&mut conn, run_id, &report, result.as_ref().err()).await?;
    }
    result.map(|()| report)
}

#[expect(
    clippy::too_many_arguments,
    reason = "one run's context, threaded through its steps"
)]
async fn sweep_steps(
    pool: &DbPool,
    conn: &mut AsyncPgConnection,
    gateway: &dyn StripeGateway,
    parser: &dyn EventParser,
    opts: &SweepOptions,
    actor: &Actor,
    report: &mut SweepReport,
    progress: Option<Progress<'_>>,
) -> Result<(), DomainError> {
    let expired = candidates(conn, opts).await?;
    let total = expired.len();
    report.found = i32::try_from(total).unwrap_or(i32::MAX);
    let mut done = 0;
    let mut results = stream::iter(expired)
        .map(|payment| async move {
            let mut conn = pool.get().await?;
            reconcile(&mut conn, gateway, &payment, actor, opts.dry_run)
                .await
                .map_err(|e| (payment.id.0, e))
                .or_else(|(id, e)| Ok::<_, DomainError>(error_action(Some(id), None, &e)))
        })
        .buffer_unordered(opts.concurrency.max(1));
    while let Some(result) = results.next().await {
        report_action(conn, report, result?, opts.dry_run).await?;
        done += 1;
        if let Some(progress) = progress {
            progress(done, total);
        }
    }
    drop(results);
    for payment in Payment::expire_pending(conn, opts.batch_limit).await? {
        let result = retry_stripe_expiry(conn, gateway, &payment, actor, opts.dry_run).await;
        let item = result.unwrap_or_else(|e| error_action(Some(payment.id.0), None, &e));
        report_action(conn, report, item, opts.dry_run).await?;
    }
    let grace = time::Duration::try_from(opts.event_grace).unwrap_or(time::Duration::MINUTE);
    for event in
        StoredEvent::unprocessed(conn, OffsetDateTime::now_utc() - grace, opts.batch_limit).await?
    {
        let item = if opts.dry_run {
            predict_event(conn, parser, &event).await?
        } else {
            match process_stored_event(conn, gateway, parser, &event.id).await {
                Ok(outcome) => SweepAction {
                    payment_id: outcome.payment_id.map(|p| p.0),
                    event_id: Some(event.id.clone()),
                    action: "event_processed".into(),
                    detail: json!({ "event_type": event.event_type, "result": outcome.action }),
                },
                // Another integration's session on the same Stripe account,
                // or one whose checkout has not committed yet: SPEC 5.5
                // keeps it for later, which is not a failure of this run.
                Err(e) if e.is_waiting() => SweepAction {
                    payment_id: None,
                    event_id: Some(event.id.clone()),
                    action: "event_waiting".into(),
                    detail: json!({ "event_type": event.event_type, "reason": e.to_string(),
                                    "attempts": event.attempts + 1 }),
                },
                Err(e) => error_action(None, Some(&event.id), &e),
            }
        };
        report_action(conn, report, item, opts.dry_run).await?;
    }
    Ok(())
}

/// What processing a stored event would do, without doing it: processed,
/// or waiting when the payment it is about is not known here.
async fn predict_event(
    conn: &mut AsyncPgConnection,
    parser: &dyn EventParser,
    event: &StoredEvent,
) -> Result<SweepAction, DomainError> {
    let raw = serde_json::to_vec(&event.payload).unwrap_or_default();
    let (name, detail) = match parser.parse(&raw) {
        Ok(parsed) if knows_payment_of(conn, &parsed).await? => (
            "would_event_processed",
            json!({ "event_type": event.event_type }),
        ),
        Ok(_) => (
            "would_event_waiting",
            json!({ "event_type": event.event_type, "attempts": event.attempts }),
        ),
        Err(e) => (
            "would_error",
            json!({ "event_type": event.event_type, "error": format!("unreadable event: {e}") }),
        ),
    };
    Ok(SweepAction {
        payment_id: None,
        event_id: Some(event.id.clone()),
        action: name.into(),
        detail,
    })
}

async fn report_action(
    conn: &mut AsyncPgConnection,
    report: &mut SweepReport,
    item: SweepAction,
    dry_run: bool,
) -> Result<(), DomainError> {
    if item.action == "error" {
        tracing::warn!(target: "payments", payment_id = item.payment_id.map(tracing::field::display),
            event_id = item.event_id.as_deref(),
            detail = %item.detail, "sweep could not reconcile");
    }
    if let Some(run_id) = report.run_id.filter(|_| !dry_run) {
        record_outcome(
            conn,
            run_id,
            item.payment_id,
            item.event_id.as_deref(),
            &item.action,
            &item.detail,
        )
        .await?;
    }
    report.count(&item);
    report.actions.push(item);
    Ok(())
}

async fn finish(
    conn: &mut AsyncPgConnection,
    run_id: Uuid,
    report: &SweepReport,
    error: Option<&DomainError>,
) -> Result<(), DomainError> {
    let outcome = if error.is_some() {
        "error"
    } else {
        report.outcome()
    };
    diesel::update(sweep_runs::table.find(run_id))
        .set((
            sweep_runs::finished_at.eq(OffsetDateTime::now_utc()),
            sweep_runs::outcome.eq(outcome),
            sweep_runs::found.eq(report.found),
            sweep_runs::cancelled.eq(report.cancelled),
            sweep_runs::completed.eq(report.completed),
            sweep_runs::still_open.eq(report.still_open),
            sweep_runs::expired_in_stripe.eq(report.expired_in_stripe),
            sweep_runs::expiries_retried.eq(report.expiries_retried),
            sweep_runs::events_processed.eq(report.events_processed),
            sweep_runs::events_waiting.eq(report.events_waiting),
            sweep_runs::errors.eq(report.errors),
            sweep_runs::error.eq(error.map(ToString::to_string)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
