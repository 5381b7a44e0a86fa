//! The sweep reconciles what webhooks missed, with Stripe as the truth.

use crate::helpers::{Ctx, user_actor};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::audit::{Actor, AuditSource};
use domain::gateway::SessionStatus;
use domain::jobs::SweepTrigger;
use domain::models::sweep_run::SweepRun;
use domain::services::{SweepOptions, cancel_payment, complete_payment, run_sweep};
use domain::testing::FakeStripe;
use domain::{PaymentId, PaymentStatus};

use crate::events::TestParser;

async fn expire_locally(ctx: &Ctx, payment: PaymentId) {
    diesel::sql_query(format!(
        "UPDATE payments SET expires_at = now() - interval '1 minute' WHERE id = '{payment}'"
    ))
    .execute(&mut *ctx.db.conn().await)
    .await
    .unwrap();
}

async fn sweep(ctx: &Ctx, dry_run: bool) -> domain::services::SweepReport {
    let opts = SweepOptions {
        dry_run,
        ..SweepOptions::new(SweepTrigger::Oneoff)
    };
    run_sweep(
        ctx.db.pool(),
        ctx.stripe.as_ref() as &FakeStripe,
        &TestParser,
        &opts,
        None,
    )
    .await
    .expect("sweep runs")
}

#[tokio::test]
async fn a_missed_completion_is_recovered_by_the_sweep() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(2, None).await;
    ctx.stripe
        .pay(payment.stripe_session_id.as_deref().unwrap());
    expire_locally(&ctx, payment.id).await;

    let report = sweep(&ctx, false).await;

    assert_eq!(
        (report.found, report.completed, report.cancelled),
        (1, 1, 0)
    );
    assert_eq!(
        ctx.payment(payment.id).await.status,
        PaymentStatus::Completed
    );
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 2);
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn an_expired_session_is_cancelled_and_its_stock_released() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(3, Some("WELCOME10")).await;
    ctx.stripe
        .expire(payment.stripe_session_id.as_deref().unwrap());
    expire_locally(&ctx, payment.id).await;

    let report = sweep(&ctx, false).await;

    assert_eq!(report.cancelled, 1);
    assert_eq!(report.outcome(), "fixed");
    assert_eq!(
        ctx.payment(payment.id).await.status,
        PaymentStatus::Cancelled
    );
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 0);
    let history = domain::audit::history(
        &mut *ctx.db.conn().await,
        domain::audit::Entity::Payment(payment.id.0),
    )
    .await
    .unwrap();
    assert_eq!(history[0].source, "sweep");
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn a_session_still_open_past_its_ttl_is_expired_in_stripe_then_cancelled() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    expire_locally(&ctx, payment.id).await;

    let report = sweep(&ctx, false).await;

    assert_eq!((report.expired_in_stripe, report.cancelled), (1, 1));
    let session = ctx
        .stripe
        .session(payment.stripe_session_id.as_deref().unwrap())
        .unwrap();
    assert_eq!(session.status, SessionStatus::Expired);
    assert_eq!(
        ctx.payment(payment.id).await.status,
        PaymentStatus::Cancelled
    );
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn payments_not_yet_expired_are_left_alone() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;

    let report = sweep(&ctx, false).await;

    assert_eq!(report.found, 0);
    assert_eq!(report.outcome(), "idle");
    assert_eq!(ctx.payment(payment.id).await.status, PaymentStatus::Pending);
}

#[tokio::test]
async fn the_sweep_retries_the_stripe_side_of_a_cancel_made_while_stripe_was_down() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    ctx.stripe.set_unreachable(true);
    cancel_payment(
        &mut *ctx.db.conn().await,
        ctx.stripe.as_ref(),
        payment.id,
        &user_actor(),
    )
    .await
    .unwrap();

    let while_down = sweep(&ctx, false).await;
    assert_eq!(while_down.errors, 1, "still down: counted, kept for later");
    assert!(ctx.payment(payment.id).await.stripe_expire_pending);

    ctx.stripe.set_unreachable(false);
    let report = sweep(&ctx, false).await;

    assert_eq!(report.expiries_retried, 1);
    let after = ctx.payment(payment.id).await;
    assert!(!after.stripe_expire_pending);
    assert_eq!(after.stripe_session_status.as_deref(), Some("expired"));
    let session = ctx
        .stripe
        .session(payment.stripe_session_id.as_deref().unwrap())
        .unwrap();
    assert_eq!(session.status, SessionStatus::Expired);
}

#[tokio::test]
async fn a_customer_who_paid_after_a_stripe_down_cancel_is_refunded_by_the_sweep() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    ctx.stripe.set_unreachable(true);
    cancel_payment(
        &mut *ctx.db.conn().await,
        ctx.stripe.as_ref(),
        payment.id,
        &user_actor(),
    )
    .await
    .unwrap();
    ctx.stripe.set_unreachable(false);
    ctx.stripe
        .pay(payment.stripe_session_id.as_deref().unwrap());

    sweep(&ctx, false).await;

    assert_eq!(
        ctx.payment(payment.id).await.status,
        PaymentStatus::Refunded
    );
    assert_eq!(ctx.stripe.refunds().len(), 1);
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn a_dry_run_reports_but_changes_nothing() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(2, None).await;
    expire_locally(&ctx, payment.id).await;

    let report = sweep(&ctx, true).await;

    assert_eq!(report.cancelled, 1);
    assert!(report.actions[0].action.starts_with("would_"));
    assert!(report.run_id.is_none());
    assert_eq!(ctx.payment(payment.id).await.status, PaymentStatus::Pending);
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 2);
    let session = ctx
        .stripe
        .session(payment.stripe_session_id.as_deref().unwrap())
        .unwrap();
    assert_eq!(
        session.status,
        SessionStatus::Open,
        "nothing changed in Stripe"
    );
    assert!(
        SweepRun::recent(&mut *ctx.db.conn().await, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn every_run_and_its_outcomes_are_recorded() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    ctx.stripe
        .expire(payment.stripe_session_id.as_deref().unwrap());
    expire_locally(&ctx, payment.id).await;

    let report = sweep(&ctx, false).await;

    let mut conn = ctx.db.conn().await;
    let run = SweepRun::find(&mut conn, report.run_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (run.outcome.as_str(), run.found, run.cancelled),
        ("fixed", 1, 1)
    );
    assert!(run.finished_at.is_some());
    let outcomes = SweepRun::outcomes_for_payment(&mut conn, payment.id.0)
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].action, "cancelled");
}

#[tokio::test]
async fn stripe_down_during_a_sweep_loses_nothing() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    expire_locally(&ctx, payment.id).await;
    ctx.stripe.set_unreachable(true);

    let report = sweep(&ctx, false).await;

    assert_eq!((report.errors, report.cancelled), (1, 0));
    assert_eq!(report.outcome(), "error");
    assert_eq!(ctx.payment(payment.id).await.status, PaymentStatus::Pending);
    ctx.stripe.set_unreachable(false);
    assert_eq!(
        sweep(&ctx, false).await.cancelled,
        1,
        "the next run finishes the job"
    );
    ctx.assert_invariants().await;
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    line: String,
}

#[tokio::test]
async fn the_candidate_query_can_use_the_partial_index() {
    let ctx = Ctx::new(10).await;
    let mut conn = ctx.db.conn().await;
    diesel::sql_query("SET enable_seqscan = off")
        .execute(&mut conn)
        .await
        .unwrap();
    let plan: Vec<PlanLine> = diesel::sql_query(
        "EXPLAIN SELECT id FROM payments WHERE status IN ('PENDING', 'FAILED') \
         AND expires_at < now() ORDER BY expires_at LIMIT 500",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let plan = plan
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(plan.contains("payments_open_expiry_idx"), "{plan}");
}

/// Cancelled while Stripe was down, then paid: the money is refunded.
async fn late_payment(ctx: &Ctx) -> domain::models::payment::Payment {
    let payment = ctx.checkout(1, None).await;
    ctx.stripe.set_unreachable(true);
    cancel_payment(
        &mut *ctx.db.conn().await,
        ctx.stripe.as_ref(),
        payment.id,
        &user_actor(),
    )
    .await
    .unwrap();
    ctx.stripe.set_unreachable(false);
    ctx.stripe
        .pay(payment.stripe_session_id.as_deref().unwrap());
    payment
}

#[tokio::test]
async fn the_sweep_records_a_late_payment_refunded_in_the_dashboard_as_refunded() {
    let ctx = Ctx::new(10).await;
    let payment = late_payment(&ctx).await;
    let session_id = payment.stripe_session_id.clone().unwrap();
    ctx.stripe.refund_in_dashboard(&format!("pi_{session_id}"));

    let report = sweep(&ctx, false).await;

    assert_eq!(report.errors, 0, "{report:?}");
    let after = ctx.payment(payment.id).await;
    assert_eq!(after.status, PaymentStatus::Refunded);
    assert!(!after.stripe_expire_pending);
    assert!(
        ctx.stripe.refunds().is_empty(),
        "no second refund asked for"
    );
    let history = domain::audit::history(
        &mut *ctx.db.conn().await,
        domain::audit::Entity::Payment(payment.id.0),
    )
    .await
    .unwrap();
    let refunded = history.iter().find(|h| h.to_status == "REFUNDED").unwrap();
    assert_eq!(refunded.source, "sweep");
    assert_eq!(sweep(&ctx, false).await.outcome(), "idle");
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn a_refunded_late_payment_leaves_no_expiry_for_the_sweep_to_retry() {
    let ctx = Ctx::new(10).await;
    let payment = late_payment(&ctx).await;
    let session = ctx
        .stripe
        .session(payment.stripe_session_id.as_deref().unwrap())
        .unwrap();
    complete_payment(
        &mut *ctx.db.conn().await,
        ctx.stripe.as_ref(),
        &session,
        &Actor::new(AuditSource::Webhook, "evt_paid"),
    )
    .await
    .unwrap();

    let report = sweep(&ctx, false).await;

    let after = ctx.payment(payment.id).await;
    assert_eq!(after.status, PaymentStatus::Refunded);
    assert!(!after.stripe_expire_pending);
    assert_eq!(report.expiries_retried, 0, "{report:?}");
    assert_eq!(report.outcome(), "idle");
}

/// A checkout that died between its reservation and Stripe's answer left
/// an open payment with no session and no expiry: after ten minutes the
/// sweep releases it; a younger one (a checkout still running) is left.
#[tokio::test]
async fn the_sweep_releases_a_checkout_that_never_got_a_session() {
    use domain::schema::payments;
    let ctx = Ctx::new(10).await;
    let abandoned = ctx.checkout(2, None).await;
    let running = ctx.checkout(1, None).await;
    let now = time::OffsetDateTime::now_utc();
    for (payment, age) in [(&abandoned, 11), (&running, 1)] {
        diesel::update(payments::table.find(payment.id))
            .set((
                payments::stripe_session_id.eq(None::<String>),
                payments::expires_at.eq(None::<time::OffsetDateTime>),
                payments::created_at.eq(now - time::Duration::minutes(age)),
            ))
            .execute(&mut *ctx.db.conn().await)
            .await
            .unwrap();
    }

    let report = sweep(&ctx, false).await;

    assert_eq!(report.cancelled, 1, "{report:?}");
    assert_eq!(
        ctx.payment(abandoned.id).await.status,
        PaymentStatus::Cancelled
    );
    assert_eq!(ctx.payment(running.id).await.status, PaymentStatus::Pending);
    ctx.assert_invariants().await;
}
