use crate::support::TestEnv;
use domain::PaymentStatus;
use domain::audit::{Entity, history};
use domain::gateway::{SessionStatus, StripeGateway};
use domain::services::CancelPlan;
use domain::testing::check_invariants;
use domain::values::email::Email;
use manage::commands::test_cancellation::{self, Opts};
use stripe_emulator::PayOutcome;

fn opts() -> Opts {
    Opts {
        payment_id: None,
        user_email: None,
        dry_run: false,
        stripe_test: false,
        all: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_cancellation_cancels_through_the_cancel_service_with_audit_source_cli() {
    let env = TestEnv::new().await;
    let payment = env.checkout().await;
    let other = env.checkout().await;
    let opts = Opts {
        payment_id: Some(payment.id.0),
        ..opts()
    };

    let report = test_cancellation::run(&mut *env.db.conn().await, &env.gateway, &opts)
        .await
        .expect("cancel");

    assert_eq!(report.payments.len(), 1);
    assert_eq!(report.cancelled(), 1, "{report:?}");
    let done = report.payments[0].cancellation.as_ref().expect("cancelled");
    assert_eq!(done.payment_status, Some(PaymentStatus::Cancelled));
    assert_eq!(env.payment(&payment).await.status, PaymentStatus::Cancelled);
    assert_eq!(env.payment(&other).await.status, PaymentStatus::Pending);
    let audit = history(&mut *env.db.conn().await, Entity::Payment(payment.id.0))
        .await
        .expect("audit");
    let last = audit.last().expect("an audit row");
    assert_eq!(
        (last.to_status.as_str(), last.source.as_str()),
        ("CANCELLED", "cli")
    );
    let session = payment.stripe_session_id.as_deref().unwrap();
    let session = env
        .gateway
        .retrieve_checkout_session(session)
        .await
        .unwrap();
    assert_eq!(session.status, SessionStatus::Expired, "expired in Stripe");

    let again = test_cancellation::run(&mut *env.db.conn().await, &env.gateway, &opts)
        .await
        .expect("a repeat");
    assert_eq!(
        (again.cancelled(), again.already_cancelled()),
        (0, 1),
        "a repeat is counted as already cancelled: {again:?}"
    );
    check_invariants(&mut *env.db.conn().await)
        .await
        .assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_cancellation_dry_run_cancels_nothing_and_stripe_test_reports_disagreements() {
    let env = TestEnv::new().await;
    let payment = env.checkout().await;
    // Paid in Stripe; the webhook never arrived, so the mirror disagrees.
    env.emulator
        .pay_session(
            payment.stripe_session_id.as_deref().unwrap(),
            PayOutcome::Succeed,
        )
        .expect("paid");
    let tables = env.dump_tables().await;
    let opts = Opts {
        user_email: Some(Email::parse("ana@example.com").unwrap()),
        dry_run: true,
        stripe_test: true,
        ..opts()
    };

    let report = test_cancellation::run(&mut *env.db.conn().await, &env.gateway, &opts)
        .await
        .expect("dry run");

    assert_eq!(report.payments.len(), 1);
    assert_eq!(report.cancelled(), 0);
    let tested = &report.payments[0];
    assert_eq!(tested.cancellation, None);
    assert_eq!(
        tested.would,
        Some(CancelPlan::RecordCompleted),
        "the cancel service would record the payment, not cancel it"
    );
    assert_eq!(report.would_cancel(), 0);
    let stripe = tested.stripe.as_ref().expect("checked in Stripe");
    assert_eq!(stripe.session_status.as_deref(), Some("complete"));
    assert!(
        stripe
            .disagreements
            .iter()
            .any(|d| d.contains("Stripe says paid")),
        "{:?}",
        stripe.disagreements
    );
    assert_eq!(env.dump_tables().await, tables, "the database changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_cancellation_without_a_filter_checks_stripe_and_cancels_nothing() {
    let env = TestEnv::new().await;
    let payment = env.checkout().await;
    let opts = Opts {
        stripe_test: true,
        ..opts()
    };

    let report = test_cancellation::run(&mut *env.db.conn().await, &env.gateway, &opts)
        .await
        .expect("a dry run");

    assert!(report.dry_run);
    assert_eq!(report.payments.len(), 1);
    assert!(report.payments[0].cancellation.is_none());
    assert!(report.payments[0].stripe.is_some(), "checked in Stripe");
    assert_eq!(env.payment(&payment).await.status, PaymentStatus::Pending);
}

/// `--payment-id` with `--user-email` is a check, not a filter one of them
/// silently wins: someone else's payment is refused and left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_cancellation_refuses_a_payment_the_named_user_does_not_own() {
    let env = TestEnv::new().await;
    let payment = env.checkout().await;
    domain::testing::seed_user(&mut *env.db.conn().await, "eve@example.com", false).await;
    let theirs = |email: &str| Opts {
        payment_id: Some(payment.id.0),
        user_email: Some(Email::parse(email).unwrap()),
        ..opts()
    };

    let error = test_cancellation::run(
        &mut *env.db.conn().await,
        &env.gateway,
        &theirs("eve@example.com"),
    )
    .await
    .expect_err("not eve's");

    assert!(
        error
            .to_string()
            .contains("does not belong to eve@example.com"),
        "{error}"
    );
    assert_eq!(env.payment(&payment).await.status, PaymentStatus::Pending);
    let owned = test_cancellation::run(
        &mut *env.db.conn().await,
        &env.gateway,
        &theirs("ana@example.com"),
    )
    .await
    .expect("ana's");
    assert_eq!(owned.cancelled(), 1, "{owned:?}");
}
