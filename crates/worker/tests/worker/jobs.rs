//! Each job end to end: enqueued through `JobQueue`, handled by a worker,
//! its effect in the database, its result in the task record.

use crate::support::{TestEnv, is_success, staff_cancellation};
use apalis::prelude::{TaskBuilder, TaskId, TaskSink};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::PaymentStatus;
use domain::audit::{Actor, AuditSource};
use domain::jobs::PaymentJob;
use domain::models::task::TaskState;
use domain::schema::{audit_log, inventory_stock};
use std::time::Duration;
use stripe_emulator::PayOutcome;

const WITHIN: Duration = Duration::from_secs(15);

async fn audit_rows(env: &TestEnv) -> i64 {
    audit_log::table
        .count()
        .get_result(&mut *env.db.conn().await)
        .await
        .expect("count")
}

async fn units_sold(env: &TestEnv) -> i32 {
    inventory_stock::table
        .select(inventory_stock::units_sold)
        .first(&mut *env.db.conn().await)
        .await
        .expect("stock")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn manual_payment_cancellation_job_cancels_and_records_its_result() {
    let env = TestEnv::new().await;
    let worker = env.start_worker().await;
    let payment = env.checkout().await;
    let id = env.enqueue(staff_cancellation(&payment)).await;
    let record = env.wait_finished(&id, WITHIN).await;
    assert_eq!(record.state(), TaskState::Success, "{record:?}");
    assert_eq!(record.attempts, 1);
    let result = record.result.expect("result");
    assert_eq!(result["status"], "success");
    assert_eq!(result["payment_status"], "CANCELLED");
    assert_eq!(env.payment(&payment).await.status, PaymentStatus::Cancelled);
    assert_eq!(units_sold(&env).await, 0, "stock released");
    env.assert_invariants().await;
    worker.shutdown().await;
}

/// The poll timer and apalis's heartbeat (which also fetches) are set far
/// beyond the test's patience: only the push's announcement on the
/// queue's wake channel can start these jobs in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pushed_job_starts_at_once_not_at_the_next_poll() {
    let env = TestEnv::with(&[
        ("WORKER_POLL_INTERVAL_MS", "600000"),
        ("WORKER_HEARTBEAT_SECS", "300"),
    ])
    .await;
    let worker = env.start_worker().await;
    let payment = env.checkout().await;
    // Past the workers' first fetch at start, so they are idle and parked.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let id = env.enqueue(staff_cancellation(&payment)).await;
    let record = env
        .wait_task(&id, Duration::from_secs(10), is_success)
        .await;
    assert_eq!(record.attempts, 1);
    let sweep = env.run_oneoff_sweep(true).await;
    assert_eq!(sweep.state(), TaskState::Success, "{sweep:?}");
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checkout_session_completed_job_completes_the_payment() {
    let env = TestEnv::new().await;
    let worker = env.start_worker().await;
    let payment = env.checkout().await;
    let session = payment.stripe_session_id.clone().expect("session");
    env.emulator
        .pay_session(&session, PayOutcome::Succeed)
        .expect("paid");
    let id = env
        .enqueue_event("checkout.session.completed", &session)
        .await;
    let record = env.wait_finished(&id, WITHIN).await;
    assert!(is_success(&record), "{record:?}");
    assert_eq!(record.job_name, "checkout_session_completed");
    assert_eq!(record.result.expect("result")["action"], "completed");
    assert_eq!(env.payment(&payment).await.status, PaymentStatus::Completed);
    env.assert_invariants().await;
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checkout_session_expired_job_cancels_and_releases() {
    let env = TestEnv::new().await;
    let worker = env.start_worker().await;
    let payment = env.checkout().await;
    let session = payment.stripe_session_id.clone().expect("session");
    env.emulator.expire_session(&session).expect("expired");
    let id = env
        .enqueue_event("checkout.session.expired", &session)
        .await;
    let record = env.wait_finished(&id, WITHIN).await;
    assert!(is_success(&record), "{record:?}");
    assert_eq!(record.job_name, "checkout_session_expired");
    assert_eq!(env.payment(&payment).await.status, PaymentStatus::Cancelled);
    assert_eq!(units_sold(&env).await, 0);
    env.assert_invariants().await;
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payment_failed_job_marks_the_payment_failed() {
    let env = TestEnv::new().await;
    let worker = env.start_worker().await;
    let payment = env.checkout().await;
    let session = payment.stripe_session_id.clone().expect("session");
    env.emulator
        .pay_session(&session, PayOutcome::Decline)
        .expect("declined");
    let intent = env
        .emulator
        .events()
        .into_iter()
        .rev()
        .find(|e| e["type"] == "payment_intent.payment_failed")
        .expect("payment_failed event")["data"]["object"]["id"]
        .as_str()
        .expect("intent id")
        .to_owned();
    let id = env
        .enqueue_event("payment_intent.payment_failed", &intent)
        .await;
    let record = env.wait_finished(&id, WITHIN).await;
    assert!(is_success(&record), "{record:?}");
    assert_eq!(record.job_name, "payment_failed");
    let after = env.payment(&payment).await;
    assert_eq!(after.status, PaymentStatus::Failed);
    assert!(after.error_message.is_some());
    env.assert_invariants().await;
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn charge_refunded_job_marks_the_payment_refunded() {
    let env = TestEnv::new().await;
    let worker = env.start_worker().await;
    let payment = env.checkout().await;
    let session = payment.stripe_session_id.clone().expect("session");
    env.emulator
        .pay_session(&session, PayOutcome::Succeed)
        .expect("paid");
    let id = env
        .enqueue_event("checkout.session.completed", &session)
        .await;
    assert!(is_success(&env.wait_finished(&id, WITHIN).await));
    let intent = env
        .payment(&payment)
        .await
        .stripe_payment_intent_id
        .expect("intent");
    let key = domain::gateway::StripeIdempotencyKey::for_action(
        payment.id,
        domain::gateway::StripeAction::Refund,
    );
    env.ctx
        .gateway
        .create_refund(&intent, None, &key)
        .await
        .expect("refund in Stripe");
    let id = env.enqueue_event("charge.refunded", &intent).await;
    let record = env.wait_finished(&id, WITHIN).await;
    assert!(is_success(&record), "{record:?}");
    assert_eq!(record.job_name, "charge_refunded");
    assert_eq!(env.payment(&payment).await.status, PaymentStatus::Refunded);
    env.assert_invariants().await;
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn other_stripe_events_are_processed_for_the_record() {
    let env = TestEnv::new().await;
    let worker = env.start_worker().await;
    let payload = serde_json::json!({
        "id": "evt_other_1", "object": "event", "type": "customer.created",
        "created": 1_700_000_000, "livemode": false, "api_version": stripe_emulator::API_VERSION,
        "data": { "object": { "id": "cus_1", "object": "customer" } },
    });
    domain::models::stripe_event::StoredEvent::store(
        &mut *env.db.conn().await,
        "evt_other_1",
        "customer.created",
        &payload,
    )
    .await
    .expect("stored");
    let id = env
        .enqueue(PaymentJob::for_event(
            "customer.created",
            "evt_other_1".into(),
        ))
        .await;
    let record = env.wait_finished(&id, WITHIN).await;
    assert!(is_success(&record), "{record:?}");
    assert_eq!(record.job_name, "stripe_event");
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicate_delivery_changes_nothing_the_second_time() {
    let env = TestEnv::new().await;
    let worker = env.start_worker().await;
    let payment = env.checkout().await;
    let job = PaymentJob::ManualPaymentCancellation {
        payment_id: payment.id,
        actor: Actor::new(AuditSource::User, "ana@example.com"),
    };
    let id = env.enqueue(job.clone()).await;
    let first = env.wait_finished(&id, WITHIN).await;
    assert!(is_success(&first));
    let audits = audit_rows(&env).await;
    let sold = units_sold(&env).await;

    // The same job again (a caller retrying): the service is idempotent.
    let again = env.enqueue(job.clone()).await;
    let second = env.wait_finished(&again, WITHIN).await;
    assert!(is_success(&second));
    assert_eq!(
        second.result.expect("result")["status"],
        "already_cancelled"
    );

    // The same task delivered again (as apalis re-runs an orphan): the
    // finished record stays as it was and nothing runs.
    env.redis().await; // connection warm
    let mut storage = env.queue.payments_storage();
    let mut conn = env.queue.redis();
    let data_hash =
        worker::queue::queue_config(&env.prefix, domain::jobs::PAYMENTS_QUEUE).job_data_hash();
    let _: () = redis::cmd("HDEL")
        .arg(&data_hash)
        .arg(&id)
        .query_async(&mut conn)
        .await
        .expect("forget apalis's copy");
    storage
        .push_task(
            TaskBuilder::new(job)
                .task_id(TaskId::from_string(id.clone()))
                .build(),
        )
        .await
        .expect("redelivered");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let replayed = env.task(&id).await.expect("record");
    assert_eq!(replayed.state(), TaskState::Success);
    assert_eq!(replayed.result, first.result, "the first result stays");
    assert_eq!(audit_rows(&env).await, audits, "no new transitions");
    assert_eq!(units_sold(&env).await, sold, "nothing released twice");
    env.assert_invariants().await;
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transient_failures_retry_with_backoff_and_stop_at_our_cap_not_apalis_25() {
    worker::metrics::install();
    let env = TestEnv::new().await;
    let worker = env.start_worker().await;
    // A completed session the service does not know: UnknownSession is
    // transient (the checkout may not have stored its id yet).
    let session = env.checkout().await.stripe_session_id.expect("session");
    env.emulator
        .pay_session(&session, PayOutcome::Succeed)
        .expect("paid");
    let event = env
        .store_event("checkout.session.completed", &session)
        .await;
    diesel::sql_query(
        "UPDATE stripe_events SET payload = jsonb_set(jsonb_set(payload, '{data,object,id}', '\"cs_unknown\"'), '{data,object,metadata}', '{}'::jsonb) #- '{data,object,client_reference_id}'",
    )
    .execute(&mut *env.db.conn().await)
    .await
    .expect("rewrite event");
    let id = env
        .enqueue(PaymentJob::for_event("checkout.session.completed", event))
        .await;
    let record = env.wait_finished(&id, WITHIN).await;
    assert_eq!(record.state(), TaskState::Failure, "{record:?}");
    assert_eq!(record.attempts, 3, "JOB_MAX_ATTEMPTS=3, not apalis's 25");
    assert!(
        record
            .error
            .as_deref()
            .unwrap_or("")
            .contains("after 3 attempts the stored event is left to the sweep"),
        "{record:?}"
    );
    // The sweep keeps retrying such an event: not a failure to alert on.
    let metrics = worker::metrics::install().render();
    let counted = |outcome: &str| {
        let series = format!(
            r#"payments_jobs_total{{job="checkout_session_completed",outcome="{outcome}"}}"#
        );
        metrics.lines().find_map(|line| {
            line.strip_prefix(series.as_str())?
                .trim()
                .parse::<f64>()
                .ok()
        })
    };
    assert_eq!(counted("waiting"), Some(1.0), "{metrics}");
    assert_eq!(counted("failure"), Some(0.0), "{metrics}");
    // apalis holds no retry of its own: the last task is dead (Killed),
    // the earlier ones done, and nothing is scheduled.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let config = worker::queue::queue_config(&env.prefix, domain::jobs::PAYMENTS_QUEUE);
    let mut conn = env.queue.redis();
    let (scheduled, dead, status): (u64, Vec<String>, Option<String>) = redis::pipe()
        .zcard(config.scheduled_jobs_set())
        .smembers(config.dead_jobs_set())
        .hget(format!("{}:{id}~3", config.job_meta_hash()), "status")
        .query_async(&mut conn)
        .await
        .expect("redis");
    assert_eq!(scheduled, 0);
    assert_eq!(dead, vec![format!("{id}~3")]);
    assert_eq!(status.as_deref(), Some("Killed"));
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_before_its_checkout_is_stored_is_retried_until_it_succeeds() {
    let env = TestEnv::with(&[("JOB_BACKOFF_BASE_MS", "1500")]).await;
    let worker = env.start_worker().await;
    let payment = env.checkout().await;
    let session = payment.stripe_session_id.clone().expect("session");
    env.emulator
        .pay_session(&session, PayOutcome::Succeed)
        .expect("paid");
    let event = env
        .store_event("checkout.session.completed", &session)
        .await;
    // The event names only the session, which is not stored yet.
    diesel::sql_query(
        "UPDATE stripe_events SET payload = jsonb_set(payload, '{data,object,metadata}', '{}'::jsonb) #- '{data,object,client_reference_id}'",
    )
    .execute(&mut *env.db.conn().await)
    .await
    .expect("rewrite event");
    let hide = format!(
        "UPDATE payments SET stripe_session_id = NULL WHERE id = '{}'",
        payment.id
    );
    diesel::sql_query(hide)
        .execute(&mut *env.db.conn().await)
        .await
        .expect("hide session");
    let id = env
        .enqueue(PaymentJob::for_event("checkout.session.completed", event))
        .await;
    let retry = env
        .wait_task(&id, WITHIN, |r| r.state() == TaskState::Retry)
        .await;
    assert!(
        retry.error.as_deref().unwrap_or("").contains(&session),
        "{retry:?}"
    );
    let store = format!(
        "UPDATE payments SET stripe_session_id = '{session}' WHERE id = '{}'",
        payment.id
    );
    diesel::sql_query(store)
        .execute(&mut *env.db.conn().await)
        .await
        .expect("session stored");
    let record = env.wait_finished(&id, WITHIN).await;
    assert!(is_success(&record), "{record:?}");
    // At least one retry; more when the machine is slow enough for the
    // next one to come before the session is stored.
    assert!(record.attempts >= 2, "{record:?}");
    assert_eq!(env.payment(&payment).await.status, PaymentStatus::Completed);
    worker.shutdown().await;
}
