//! `manage test_cancellation`: show payments with their order and Stripe
//! state and cancel them through the same service as the API
//! (`cancel_payment`, audited with source `cli`). `--stripe-test` reads
//! each session from Stripe first and reports where the local mirror and
//! Stripe disagree. `--dry-run` cancels nothing, and neither does a run
//! without `--payment-id`, `--user-email` or `--all`: the seed's
//! `test_cancellation --stripe-test` checks Stripe, it does not cancel
//! every pending order of the shop.

use super::create_user::parse_email;
use crate::payments::{PaymentRow, Selection, or_dash};
use clap::Args;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use diesel_async::AsyncPgConnection;
use domain::PaymentId;
use domain::PaymentStatus;
use domain::audit::{Actor, AuditSource};
use domain::gateway::{CheckoutSession, StripeGateway};
use domain::services::{CancelPlan, cancel_payment};
use domain::values::email::Email;
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Clone, Args)]
pub struct Opts {
    /// One payment (any status).
    #[arg(long)]
    pub payment_id: Option<Uuid>,

    /// The open (PENDING or FAILED) payments of this user.
    #[arg(long, value_parser = parse_email)]
    pub user_email: Option<Email>,

    /// Show what would be cancelled; cancel nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Also read each session from Stripe and report disagreements.
    #[arg(long)]
    pub stripe_test: bool,

    /// Without --payment-id or --user-email: really cancel every PENDING
    /// payment listed (otherwise they are only listed, as with --dry-run).
    #[arg(long)]
    pub all: bool,
}

/// What Stripe says about a payment's session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StripeCheck {
    pub session_status: Option<String>,
    pub payment_status: Option<String>,
    /// Differences between Stripe and the local records; empty: they agree.
    pub disagreements: Vec<String>,
}

/// What cancelling did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cancellation {
    pub payment_status: Option<PaymentStatus>,
    pub order_status: Option<domain::OrderStatus>,
    pub already_cancelled: bool,
    /// Stripe could not be told (the sweep retries the expiry).
    pub warning: Option<String>,
    /// Not cancelled, and why (e.g. Stripe says it is paid).
    pub error: Option<String>,
}

/// A dry run's cell for what cancelling would do.
fn describe(plan: CancelPlan, payment: &PaymentRow) -> String {
    match plan {
        CancelPlan::Cancel => "would cancel".to_owned(),
        CancelPlan::RecordCompleted => {
            "would record COMPLETED (paid in Stripe), not cancel".to_owned()
        }
        CancelPlan::Nothing => "already cancelled".to_owned(),
        CancelPlan::Refuse => format!("would refuse (already {})", payment.payment_status),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tested {
    #[serde(flatten)]
    pub payment: PaymentRow,
    pub stripe: Option<StripeCheck>,
    /// Dry runs: what cancelling would do.
    pub would: Option<CancelPlan>,
    pub cancellation: Option<Cancellation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub payments: Vec<Tested>,
}

impl Report {
    /// Payments this run moved to CANCELLED (not those already there).
    pub fn cancelled(&self) -> usize {
        self.count(|t| {
            t.cancellation
                .as_ref()
                .is_some_and(|c| c.error.is_none() && !c.already_cancelled)
        })
    }

    pub fn already_cancelled(&self) -> usize {
        self.count(|t| {
            t.cancellation.as_ref().is_some_and(|c| c.already_cancelled)
                || t.would == Some(CancelPlan::Nothing)
        })
    }

    pub fn would_cancel(&self) -> usize {
        self.count(|t| t.would == Some(CancelPlan::Cancel))
    }

    fn count(&self, which: impl Fn(&Tested) -> bool) -> usize {
        self.payments.iter().filter(|t| which(t)).count()
    }
}

pub async fn run(
    conn: &mut AsyncPgConnection,
    gateway: &dyn StripeGateway,
    opts: &Opts,
) -> anyhow::Result<Report> {
    let selection = Selection::from_flags(
        opts.payment_id,
        opts.user_email.as_ref(),
        &PaymentStatus::OPEN,
        &PaymentStatus::OPEN,
    );
    let unscoped = matches!(selection, Selection::Status(_));
    let dry_run = opts.dry_run || (unscoped && !opts.all);
    let actor = Actor::new(AuditSource::Cli, crate::services::operator());
    let mut payments = Vec::new();
    for view in selection.load(conn).await? {
        let payment = PaymentRow::from(&view);
        let (stripe, session) = if opts.stripe_test {
            let (check, session) = check_stripe(gateway, &payment).await;
            (Some(check), session)
        } else {
            (None, None)
        };
        let (would, cancellation) = if dry_run {
            (
                Some(CancelPlan::decide(payment.payment_status, session.as_ref())),
                None,
            )
        } else {
            let done = cancel(conn, gateway, payment.payment_id, &actor).await;
            (None, Some(done))
        };
        payments.push(Tested {
            payment,
            stripe,
            would,
            cancellation,
        });
    }
    Ok(Report { dry_run, payments })
}

async fn cancel(
    conn: &mut AsyncPgConnection,
    gateway: &dyn StripeGateway,
    id: Uuid,
    actor: &Actor,
) -> Cancellation {
    match cancel_payment(conn, gateway, PaymentId(id), actor).await {
        Ok(outcome) => Cancellation {
            payment_status: Some(outcome.payment.status),
            order_status: Some(outcome.order_status),
            already_cancelled: outcome.already_cancelled,
            warning: outcome.stripe_warning,
            error: None,
        },
        Err(error) => Cancellation {
            payment_status: None,
            order_status: None,
            already_cancelled: false,
            warning: None,
            error: Some(error.to_string()),
        },
    }
}

/// The check, and the session when Stripe answered.
async fn check_stripe(
    gateway: &dyn StripeGateway,
    payment: &PaymentRow,
) -> (StripeCheck, Option<CheckoutSession>) {
    let unanswered = |why: String| StripeCheck {
        session_status: None,
        payment_status: None,
        disagreements: vec![why],
    };
    let Some(session_id) = payment.stripe_session_id.as_deref() else {
        return (
            unanswered("the payment has no Checkout Session".into()),
            None,
        );
    };
    match gateway.retrieve_checkout_session(session_id).await {
        Ok(session) => {
            let check = StripeCheck {
                session_status: Some(session.status.as_str().to_owned()),
                payment_status: Some(session.payment_status.as_str().to_owned()),
                disagreements: disagreements(payment, &session),
            };
            (check, Some(session))
        }
        Err(error) => (
            unanswered(format!("Stripe could not be asked: {error}")),
            None,
        ),
    }
}

/// Where the local payment and its mirror differ from Stripe's session.
pub fn disagreements(payment: &PaymentRow, session: &CheckoutSession) -> Vec<String> {
    let mut found = Vec::new();
    let stripe_status = session.status.as_str();
    let stripe_paid = session.payment_status.as_str();
    if payment.stripe_session_status.as_deref() != Some(stripe_status) {
        found.push(format!(
            "session status: local mirror {}, Stripe {stripe_status}",
            or_dash(payment.stripe_session_status.as_deref())
        ));
    }
    if payment.stripe_payment_status.as_deref() != Some(stripe_paid) {
        found.push(format!(
            "payment status: local mirror {}, Stripe {stripe_paid}",
            or_dash(payment.stripe_payment_status.as_deref())
        ));
    }
    let local = payment.payment_status;
    if session.is_paid() && !matches!(local, PaymentStatus::Completed | PaymentStatus::Refunded) {
        found.push(format!("Stripe says paid, the payment is {local} here"));
    }
    if !session.is_paid() && local == PaymentStatus::Completed {
        found.push("the payment is COMPLETED here, Stripe has no payment".into());
    }
    if stripe_status == "open" && local == PaymentStatus::Cancelled {
        found.push("cancelled here, but the session is still open in Stripe".into());
    }
    found
}

pub fn print(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        return super::print_json(report);
    }
    if report.payments.is_empty() {
        println!("no matching payments");
        return Ok(());
    }
    println!("{}", table(report));
    let already = match report.already_cancelled() {
        0 => String::new(),
        n => format!(", {n} already cancelled"),
    };
    if report.dry_run {
        println!(
            "Dry run: {} of {} payment(s) would be cancelled{already}; nothing was changed.",
            report.would_cancel(),
            report.payments.len()
        );
    } else {
        println!(
            "{} of {} payment(s) cancelled{already} (audit source 'cli').",
            report.cancelled(),
            report.payments.len()
        );
    }
    Ok(())
}

fn table(report: &Report) -> Table {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "payment",
        "user",
        "amount",
        "payment / order (before)",
        "mirror session / payment",
        "Stripe check",
        "result",
    ]);
    for t in &report.payments {
        let p = &t.payment;
        let stripe = t.stripe.as_ref().map_or_else(String::new, |s| {
            if s.disagreements.is_empty() {
                format!("agrees ({})", or_dash(s.session_status.as_deref()))
            } else {
                s.disagreements.join("\n")
            }
        });
        let result = match (&t.cancellation, t.would) {
            (Some(done), _) => outcome(done),
            (None, Some(would)) => describe(would, p),
            (None, None) => String::new(),
        };
        table.add_row(vec![
            p.payment_id.to_string(),
            p.user_email.clone(),
            p.amount_with_currency(),
            format!("{} / {}", p.payment_status, p.order_status),
            format!(
                "{} / {}",
                or_dash(p.stripe_session_status.as_deref()),
                or_dash(p.stripe_payment_status.as_deref())
            ),
            stripe,
            result,
        ]);
    }
    table
}

/// A cancellation's result in one cell, with the state it left.
fn outcome(c: &Cancellation) -> String {
    let now = match (c.payment_status, c.order_status) {
        (Some(payment), Some(order)) => format!(" (now {payment} / {order})"),
        _ => String::new(),
    };
    match (&c.error, &c.warning, c.already_cancelled) {
        (Some(error), _, _) => format!("not cancelled: {error}"),
        (None, _, true) => format!("already cancelled{now}"),
        (None, Some(warning), false) => format!("cancelled{now}; warning: {warning}"),
        (None, None, false) => format!("cancelled{now}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::gateway::{SessionPaymentStatus, SessionStatus};
    use time::OffsetDateTime;

    fn local(status: PaymentStatus, session: &str, paid: &str) -> PaymentRow {
        PaymentRow {
            payment_id: Uuid::nil(),
            order_id: Uuid::nil(),
            user_email: "ana@example.com".into(),
            amount: "10.00".into(),
            currency: "USD".into(),
            payment_status: status,
            order_status: domain::OrderStatus::Pending,
            stripe_session_id: Some("cs_test_1".into()),
            stripe_session_status: Some(session.into()),
            stripe_payment_status: Some(paid.into()),
            expires_at: None,
            stripe_expire_pending: false,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn stripe(status: SessionStatus, paid: SessionPaymentStatus) -> CheckoutSession {
        CheckoutSession {
            id: "cs_test_1".into(),
            status,
            payment_status: paid,
            payment_intent_id: None,
            expires_at: Some(OffsetDateTime::UNIX_EPOCH),
            url: None,
            payment_id: None,
        }
    }

    #[test]
    fn an_agreeing_mirror_has_no_disagreements() {
        let row = local(PaymentStatus::Pending, "open", "unpaid");
        let session = stripe(SessionStatus::Open, SessionPaymentStatus::Unpaid);
        assert!(disagreements(&row, &session).is_empty());
    }

    #[test]
    fn a_missed_completion_and_a_still_open_cancelled_session_are_reported() {
        let row = local(PaymentStatus::Pending, "open", "unpaid");
        let paid = stripe(SessionStatus::Complete, SessionPaymentStatus::Paid);
        let found = disagreements(&row, &paid);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[2].starts_with("Stripe says paid"), "{found:?}");

        let row = local(PaymentStatus::Cancelled, "open", "unpaid");
        let open = stripe(SessionStatus::Open, SessionPaymentStatus::Unpaid);
        assert_eq!(
            disagreements(&row, &open),
            vec!["cancelled here, but the session is still open in Stripe".to_owned()]
        );
    }
}
