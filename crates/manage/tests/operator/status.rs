use crate::support::TestEnv;
use domain::audit::{Actor, AuditSource};
use domain::services::cancel_payment;
use manage::commands::check_payment_status::{self, Opts, snapshot};
use manage::payments::Selection;
use std::time::{Duration, Instant};

fn opts(watch: bool, duration: Option<u64>) -> Opts {
    Opts {
        payment_id: None,
        user_email: None,
        watch,
        duration,
        interval: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_payment_status_keeps_a_payment_that_left_pending_and_marks_the_change() {
    let env = TestEnv::new().await;
    let payment = env.checkout().await;
    let selection = opts(false, None).selection();
    assert!(matches!(selection, Selection::Status(_)));
    let mut conn = env.db.conn().await;
    let first = snapshot(&mut conn, &selection, None).await.expect("first");
    assert_eq!(first.payments.len(), 1);
    assert_eq!(first.payments[0].change, None);

    let actor = Actor::new(AuditSource::Cli, "test");
    cancel_payment(&mut conn, &env.gateway, payment.id, &actor)
        .await
        .expect("cancelled");
    let second = snapshot(&mut conn, &selection, Some(&first))
        .await
        .expect("second");

    assert_eq!(
        second.payments.len(),
        1,
        "the cancelled payment stays in view"
    );
    let change = second.payments[0].change.as_deref().expect("a change");
    assert!(change.starts_with("PENDING → CANCELLED"), "{change}");
    let table = check_payment_status::table(&second).to_string();
    assert!(table.contains("●"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_payment_status_watch_ends_after_the_duration() {
    let env = TestEnv::new().await;
    env.checkout().await;
    let started = Instant::now();
    let mut shown = 0;

    let watched = check_payment_status::watch(
        &mut *env.db.conn().await,
        &opts(true, Some(2)),
        |snapshot| {
            assert_eq!(snapshot.payments.len(), 1);
            shown += 1;
            Ok(())
        },
    )
    .await
    .expect("watch");

    let took = started.elapsed();
    assert!(!watched.interrupted);
    assert_eq!(watched.refreshes, shown);
    assert!((2..=4).contains(&shown), "{shown} refreshes");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "{took:?}"
    );
}
