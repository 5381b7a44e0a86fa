use crate::support::TestEnv;
use domain::PaymentStatus;
use domain::gateway::{SessionStatus, StripeGateway};
use domain::testing::check_invariants;
use manage::commands::clean_expired_sessions::{self, Opts};
use stripe_emulator::PayOutcome;

fn opts(dry_run: bool) -> Opts {
    Opts {
        dry_run,
        force: false,
        session_ttl_secs: 1800,
        concurrency: 2,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_expired_sessions_dry_run_changes_nothing_anywhere_and_says_what_it_would_do() {
    let env = TestEnv::new().await;
    let open = env.checkout().await;
    env.backdate_expiry(&open).await;
    let paid = env.checkout().await;
    let paid_session = paid.stripe_session_id.clone().expect("session");
    env.emulator
        .pay_session(&paid_session, PayOutcome::Succeed)
        .expect("paid");
    env.backdate_expiry(&paid).await;
    let tables = env.dump_tables().await;
    let keys = env.redis_keys().await;
    let requests_before = env.emulator.requests().len();

    let report = clean_expired_sessions::run(env.db.pool(), &env.gateway, &opts(true))
        .await
        .expect("dry run");

    assert!(report.dry_run);
    assert_eq!(report.run_id, None);
    assert_eq!(report.found, 2, "{report:?}");
    assert_eq!(report.cancelled, 1, "{report:?}");
    assert_eq!(report.expired_in_stripe, 1, "{report:?}");
    assert_eq!(report.completed, 1, "{report:?}");
    let mut would: Vec<(String, String)> = report
        .actions
        .iter()
        .map(|a| (a.payment_id.expect("payment").to_string(), a.action.clone()))
        .collect();
    would.sort();
    let mut expected = vec![
        (
            open.id.to_string(),
            "would_expired_in_stripe_and_cancelled".to_owned(),
        ),
        (paid.id.to_string(), "would_completed".to_owned()),
    ];
    expected.sort();
    assert_eq!(would, expected);
    let summary = clean_expired_sessions::summary_table(&report).to_string();
    assert!(
        summary.contains("would be recovered as completed"),
        "{summary}"
    );

    assert_eq!(env.dump_tables().await, tables, "the database changed");
    assert_eq!(env.redis_keys().await, keys, "Redis changed");
    let open_session = open.stripe_session_id.as_deref().expect("session");
    let session = env
        .gateway
        .retrieve_checkout_session(open_session)
        .await
        .unwrap();
    assert_eq!(
        session.status,
        SessionStatus::Open,
        "the session was expired"
    );
    let writes: Vec<_> = env.emulator.requests()[requests_before..]
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "Stripe was changed: {writes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_expired_sessions_cancels_an_expired_payment_and_recovers_a_paid_one() {
    let env = TestEnv::new().await;
    let expired = env.checkout().await;
    let expired_session = expired.stripe_session_id.clone().expect("session");
    env.emulator
        .expire_session(&expired_session)
        .expect("expired");
    env.backdate_expiry(&expired).await;
    let paid = env.checkout().await;
    env.emulator
        .pay_session(
            paid.stripe_session_id.as_deref().unwrap(),
            PayOutcome::Succeed,
        )
        .expect("paid");
    env.backdate_expiry(&paid).await;
    let untouched = env.checkout().await;

    let report = clean_expired_sessions::run(env.db.pool(), &env.gateway, &opts(false))
        .await
        .expect("sweep");

    assert!(report.run_id.is_some(), "recorded in sweep_runs");
    assert_eq!(
        (
            report.found,
            report.cancelled,
            report.completed,
            report.errors
        ),
        (2, 1, 1, 0),
        "{report:?}"
    );
    assert_eq!(env.payment(&expired).await.status, PaymentStatus::Cancelled);
    assert_eq!(env.payment(&paid).await.status, PaymentStatus::Completed);
    assert_eq!(env.payment(&untouched).await.status, PaymentStatus::Pending);
    check_invariants(&mut *env.db.conn().await)
        .await
        .assert_ok();
}
