use crate::helpers::{Ctx, user_actor};
use domain::PaymentStatus;
use domain::audit::{Actor, AuditSource};
use domain::services::complete::CompletionAction;
use domain::services::{
    ExpiryOutcome, cancel_payment, complete_payment, handle_session_expired, record_payment_failed,
};

fn webhook() -> Actor {
    Actor::new(AuditSource::Webhook, "evt_test")
}

#[tokio::test]
async fn a_paid_session_completes_payment_and_order_once() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(2, None).await;
    let session = ctx
        .stripe
        .pay(payment.stripe_session_id.as_deref().unwrap());
    let mut conn = ctx.db.conn().await;

    let first = complete_payment(&mut conn, ctx.stripe.as_ref(), &session, &webhook())
        .await
        .unwrap();
    let duplicate = complete_payment(&mut conn, ctx.stripe.as_ref(), &session, &webhook())
        .await
        .unwrap();

    assert_eq!(first.action, CompletionAction::Completed);
    assert_eq!(duplicate.action, CompletionAction::AlreadySettled);
    assert_eq!(first.payment.status, PaymentStatus::Completed);
    assert!(first.payment.completed_at.is_some());
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 2);
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn expired_webhook_for_completed_payment_changes_nothing() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(2, None).await;
    let session_id = payment.stripe_session_id.clone().unwrap();
    let session = ctx.stripe.pay(&session_id);
    let mut conn = ctx.db.conn().await;
    complete_payment(&mut conn, ctx.stripe.as_ref(), &session, &webhook())
        .await
        .unwrap();

    let outcome = handle_session_expired(&mut conn, ctx.stripe.as_ref(), &session_id, &webhook())
        .await
        .unwrap();

    assert!(matches!(
        outcome,
        ExpiryOutcome::AlreadySettled(PaymentStatus::Completed)
    ));
    assert_eq!(
        ctx.payment(payment.id).await.status,
        PaymentStatus::Completed
    );
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 2);
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn a_stale_expired_event_for_a_session_stripe_shows_paid_completes_instead() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    let session_id = payment.stripe_session_id.clone().unwrap();
    ctx.stripe.pay(&session_id);

    let outcome = handle_session_expired(
        &mut *ctx.db.conn().await,
        ctx.stripe.as_ref(),
        &session_id,
        &webhook(),
    )
    .await
    .unwrap();

    assert!(matches!(outcome, ExpiryOutcome::Completed(_)));
    assert_eq!(
        ctx.payment(payment.id).await.status,
        PaymentStatus::Completed
    );
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn an_expired_event_for_a_session_still_open_in_stripe_cancels_nothing() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    let session_id = payment.stripe_session_id.clone().unwrap();

    let outcome = handle_session_expired(
        &mut *ctx.db.conn().await,
        ctx.stripe.as_ref(),
        &session_id,
        &webhook(),
    )
    .await
    .unwrap();

    assert!(matches!(outcome, ExpiryOutcome::NotExpiredInStripe(ref s) if s == "open"));
    assert_eq!(ctx.payment(payment.id).await.status, PaymentStatus::Pending);
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 1);
}

#[tokio::test]
async fn an_expired_session_releases_like_a_cancel_with_source_webhook() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(4, Some("WELCOME10")).await;
    let session_id = payment.stripe_session_id.clone().unwrap();
    ctx.stripe.expire(&session_id);
    let mut conn = ctx.db.conn().await;

    let outcome = handle_session_expired(&mut conn, ctx.stripe.as_ref(), &session_id, &webhook())
        .await
        .unwrap();
    let again = handle_session_expired(&mut conn, ctx.stripe.as_ref(), &session_id, &webhook())
        .await
        .unwrap();

    assert!(matches!(outcome, ExpiryOutcome::Cancelled(_)));
    assert!(matches!(
        again,
        ExpiryOutcome::AlreadySettled(PaymentStatus::Cancelled)
    ));
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 0);
    let history = domain::audit::history(&mut conn, domain::audit::Entity::Payment(payment.id.0))
        .await
        .unwrap();
    assert_eq!(history[0].source, "webhook");
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn money_arriving_after_cancellation_is_refunded_once_and_recorded() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(2, None).await;
    let session_id = payment.stripe_session_id.clone().unwrap();
    // Stripe was down during the cancel, so the session stayed open and the
    // customer paid afterwards.
    ctx.stripe.set_unreachable(true);
    let mut conn = ctx.db.conn().await;
    cancel_payment(&mut conn, ctx.stripe.as_ref(), payment.id, &user_actor())
        .await
        .unwrap();
    ctx.stripe.set_unreachable(false);
    let session = ctx.stripe.pay(&session_id);

    let first = complete_payment(&mut conn, ctx.stripe.as_ref(), &session, &webhook())
        .await
        .unwrap();
    let duplicate = complete_payment(&mut conn, ctx.stripe.as_ref(), &session, &webhook())
        .await
        .unwrap();

    assert_eq!(first.action, CompletionAction::RefundedLatePayment);
    assert_eq!(first.payment.status, PaymentStatus::Refunded);
    assert_eq!(duplicate.action, CompletionAction::AlreadySettled);
    let refunds = ctx.stripe.refunds();
    assert_eq!(refunds.len(), 1, "one refund whatever the deliveries");
    assert_eq!(refunds[0].amount_minor, 2000);
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 0);
}

#[tokio::test]
async fn a_failed_card_marks_failed_and_a_later_payment_completes_without_the_decline() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    let mut conn = ctx.db.conn().await;

    let failed = record_payment_failed(
        &mut conn,
        payment.id,
        Some("pi_1"),
        Some("Your card was declined."),
        &webhook(),
    )
    .await
    .unwrap();
    assert_eq!(failed.status, PaymentStatus::Failed);
    assert_eq!(
        failed.error_message.as_deref(),
        Some("Your card was declined.")
    );

    let session = ctx
        .stripe
        .pay(payment.stripe_session_id.as_deref().unwrap());
    let done = complete_payment(&mut conn, ctx.stripe.as_ref(), &session, &webhook())
        .await
        .unwrap();
    assert_eq!(done.payment.status, PaymentStatus::Completed);
    assert_eq!(
        done.payment.error_message, None,
        "a paid payment shows no decline (its FAILED audit row keeps it)"
    );

    let late_failure = record_payment_failed(
        &mut conn,
        payment.id,
        Some("pi_1"),
        Some("late"),
        &webhook(),
    )
    .await
    .unwrap();
    assert_eq!(
        late_failure.status,
        PaymentStatus::Completed,
        "out-of-order failure changes nothing"
    );
    assert_eq!(late_failure.error_message, None);
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn a_late_payment_already_refunded_in_stripe_is_recorded_refunded() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(2, None).await;
    let session_id = payment.stripe_session_id.clone().unwrap();
    ctx.stripe.set_unreachable(true);
    let mut conn = ctx.db.conn().await;
    cancel_payment(&mut conn, ctx.stripe.as_ref(), payment.id, &user_actor())
        .await
        .unwrap();
    ctx.stripe.set_unreachable(false);
    let session = ctx.stripe.pay(&session_id);
    // Someone refunds it in Stripe's dashboard before our job runs.
    ctx.stripe.refund_in_dashboard(&format!("pi_{session_id}"));

    let done = complete_payment(&mut conn, ctx.stripe.as_ref(), &session, &webhook())
        .await
        .unwrap();

    assert_eq!(done.action, CompletionAction::RefundedLatePayment);
    assert_eq!(done.payment.status, PaymentStatus::Refunded);
    assert!(!done.payment.stripe_expire_pending);
    assert!(ctx.stripe.refunds().is_empty(), "Stripe refunded it once");
    let history = domain::audit::history(&mut conn, domain::audit::Entity::Payment(payment.id.0))
        .await
        .unwrap();
    let refunded = history.iter().find(|h| h.to_status == "REFUNDED").unwrap();
    assert_eq!(
        refunded.detail["refund_status"],
        "already_refunded_in_stripe"
    );
    ctx.assert_invariants().await;
}
