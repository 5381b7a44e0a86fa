//! What must hold once a run has come to rest (see [`crate::settle`]):
//! SPEC §4's invariants as SQL over the whole database
//! (`domain::testing::check_invariants`), nothing accepted and left
//! undone (stored webhooks, jobs), and every payment agreeing with Stripe:
//! paid in Stripe ⇒ COMPLETED or REFUNDED here; CANCELLED here ⇒ Stripe's
//! session closed unpaid; REFUNDED here ⇒ Stripe refunded it.

use crate::emulator::StripeFacts;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::PaymentStatus;
use domain::gateway::{SessionStatus, StripeGateway};
use domain::models::payment::Payment;
use domain::schema::payments;
use domain::testing::check_invariants;

#[derive(Debug, Default, Clone)]
pub struct Findings {
    /// Broken promises: any one fails the run.
    pub violations: Vec<String>,
    /// Worth reading, not a failure (e.g. a job that failed during a fault).
    pub notes: Vec<String>,
}

impl Findings {
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// How strict to be about jobs that ended in FAILURE: without injected
/// faults none should.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedJobs {
    AreViolations,
    AreNotes,
}

#[derive(QueryableByName)]
struct Pending {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    error: Option<String>,
}

const UNPROCESSED_EVENTS: &str = "SELECT id, event_type AS kind, 'unprocessed' AS status, attempts, \
     processing_error AS error FROM stripe_events WHERE processed_at IS NULL ORDER BY received_at";
/// Not finished, leaving out the sweep chain's next link: it waits for
/// its time by design.
fn unfinished_tasks() -> String {
    format!(
        "SELECT id, job_name AS kind, status, attempts, error FROM task_records \
         WHERE status NOT IN ('SUCCESS', 'FAILURE') AND id IS DISTINCT FROM ({}) \
         ORDER BY created_at",
        crate::settle::NEXT_CHAIN_LINK
    )
}
const FAILED_TASKS: &str = "SELECT id, job_name AS kind, status, attempts, error FROM task_records \
     WHERE status = 'FAILURE' ORDER BY created_at";

async fn pending(conn: &mut AsyncPgConnection, query: &str) -> anyhow::Result<Vec<Pending>> {
    Ok(diesel::sql_query(query).load(conn).await?)
}

pub async fn check_everything(
    conn: &mut AsyncPgConnection,
    gateway: &dyn StripeGateway,
    stripe: &StripeFacts,
    failed_jobs: FailedJobs,
) -> anyhow::Result<Findings> {
    let mut findings = Findings::default();
    findings
        .violations
        .extend(check_invariants(conn).await.violations);
    for e in pending(conn, UNPROCESSED_EVENTS).await? {
        findings.violations.push(format!(
            "webhook event {} ({}) was acknowledged but never processed (attempts {}, error {:?})",
            e.id, e.kind, e.attempts, e.error
        ));
    }
    for t in pending(conn, &unfinished_tasks()).await? {
        findings.violations.push(format!(
            "job {} ({}) never finished: still {} after {} attempts",
            t.id, t.kind, t.status, t.attempts
        ));
    }
    for t in pending(conn, FAILED_TASKS).await? {
        let text = format!(
            "job {} ({}) ended in FAILURE after {} attempts: {}",
            t.id,
            t.kind,
            t.attempts,
            t.error.as_deref().unwrap_or("-")
        );
        match failed_jobs {
            FailedJobs::AreViolations => findings.violations.push(text),
            FailedJobs::AreNotes => findings.notes.push(text),
        }
    }
    let all: Vec<Payment> = payments::table
        .select(Payment::as_select())
        .load(conn)
        .await?;
    for payment in &all {
        agree_with_stripe(payment, gateway, stripe, &mut findings).await;
    }
    Ok(findings)
}

/// One payment against Stripe's truth, after the final sweep.
async fn agree_with_stripe(
    payment: &Payment,
    gateway: &dyn StripeGateway,
    stripe: &StripeFacts,
    findings: &mut Findings,
) {
    let id = payment.id;
    let status = payment.status;
    if status.is_open() {
        findings.violations.push(format!(
            "payment {id} is still {status} after its expiry and a sweep"
        ));
    }
    let Some(session_id) = payment.stripe_session_id.as_deref() else {
        if status != PaymentStatus::Cancelled {
            findings
                .violations
                .push(format!("payment {id} has no session but is {status}"));
        }
        return;
    };
    let session = match gateway.retrieve_checkout_session(session_id).await {
        Ok(session) => session,
        Err(e) => {
            findings.violations.push(format!(
                "payment {id}: cannot read session {session_id}: {e}"
            ));
            return;
        }
    };
    let intent = session
        .payment_intent_id
        .as_deref()
        .or(payment.stripe_payment_intent_id.as_deref());
    let refunded = intent.is_some_and(|i| stripe.refunded_intents.contains(i));
    let paid = session.is_paid();
    let problem = match status {
        PaymentStatus::Completed if !paid => Some("COMPLETED here but Stripe has no payment"),
        PaymentStatus::Completed if refunded => Some("COMPLETED here but Stripe refunded it"),
        PaymentStatus::Cancelled if paid => {
            Some("paid in Stripe but CANCELLED here and never refunded")
        }
        PaymentStatus::Cancelled if session.status == SessionStatus::Open => {
            Some("CANCELLED here but its session is still open in Stripe (the customer can pay)")
        }
        PaymentStatus::Refunded if !refunded => Some("REFUNDED here but Stripe refunded nothing"),
        PaymentStatus::Pending | PaymentStatus::Failed if paid => {
            Some("paid in Stripe but not COMPLETED here")
        }
        _ => None,
    };
    if let Some(problem) = problem {
        findings.violations.push(format!(
            "payment {id} (session {session_id}, Stripe {}/{}): {problem}",
            session.status.as_str(),
            session.payment_status.as_str()
        ));
    }
}
