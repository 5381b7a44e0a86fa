//! The sweep as a job: what it recovers, and Stripe's rate limits.

use crate::support::{TestEnv, is_success};
use domain::PaymentStatus;
use std::time::{Duration, Instant};
use stripe_emulator::{Fault, PayOutcome};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn missed_completion_is_recovered_by_the_sweep() {
    let env = TestEnv::new().await;
    let worker = env.start_worker().await;
    let payment = env.checkout().await;
    let session = payment.stripe_session_id.clone().expect("session");
    // Paid in Stripe, but the webhook never arrived; the session is past
    // its expiry on our side.
    env.emulator
        .pay_session(&session, PayOutcome::Succeed)
        .expect("paid");
    env.backdate_expiry(&payment).await;
    let record = env.run_oneoff_sweep(false).await;
    assert!(is_success(&record), "{record:?}");
    let report = &record.result.expect("result")["report"];
    assert_eq!(report["completed"], 1, "{report}");
    assert_eq!(report["cancelled"], 0, "paid is never cancelled");
    assert_eq!(env.payment(&payment).await.status, PaymentStatus::Completed);
    env.assert_invariants().await;
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_storm_during_a_sweep_slows_it_but_loses_nothing() {
    let env = TestEnv::with(&[("SWEEP_CONCURRENCY", "3")]).await;
    let worker = env.start_worker().await;
    let mut payments = Vec::new();
    for _ in 0..5 {
        let p = env.checkout().await;
        env.backdate_expiry(&p).await;
        payments.push(p);
    }
    // Every session read is refused a few times with Retry-After: 1.
    env.emulator.inject_fault(Fault {
        count: 8,
        status: Some(429),
        retry_after: Some(1),
        delay_ms: 0,
        path_prefix: Some("/v1/checkout/sessions/".into()),
        method: Some("GET".into()),
    });
    let started = Instant::now();
    let record = env.run_oneoff_sweep(false).await;
    let took = started.elapsed();
    assert!(is_success(&record), "{record:?}");
    let report = &record.result.expect("result")["report"];
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["cancelled"], 5, "{report}");
    assert!(
        took >= Duration::from_secs(1),
        "Retry-After was honoured ({took:?})"
    );
    for p in &payments {
        assert_eq!(env.payment(p).await.status, PaymentStatus::Cancelled);
    }
    env.assert_invariants().await;
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_expired_in_stripe_is_cancelled_by_the_chain_with_no_action_from_anyone() {
    let env = TestEnv::with(&[
        ("AUTO_CLEANUP", "true"),
        ("CLEANUP_INITIAL_DELAY_SECS", "0"),
        ("CLEANUP_INTERVAL_IDLE_SECS", "1"),
        ("CLEANUP_INTERVAL_BUSY_SECS", "1"),
    ])
    .await;
    let payment = env.checkout().await;
    let worker = env.start_worker().await;
    let session = payment.stripe_session_id.clone().expect("session");
    // Stripe expires the session; its webhook never reaches us.
    env.emulator.expire_session(&session).expect("expired");
    env.backdate_expiry(&payment).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while env.payment(&payment).await.status != PaymentStatus::Cancelled {
        assert!(Instant::now() < deadline, "not cancelled by the chain");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.assert_invariants().await;
    worker.shutdown().await;
}
