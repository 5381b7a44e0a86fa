//! A task's record survives the database failing after the work is done.

use crate::support::TestEnv;
use apalis_redis::RedisStorage;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use domain::audit::{Actor, AuditSource};
use domain::jobs::PaymentJob;
use domain::models::task::{TaskRecord, TaskState};
use domain::values::ids::PaymentId;
use serde_json::json;
use std::time::Duration;
use worker::tasks::{TaskInfo, TaskRef, run_tracked};

/// While `record_outage` has a row, the connection writing SUCCESS into a
/// task record is terminated mid-statement, as `pg_terminate_backend` or
/// a PostgreSQL restart does (what scripts/chaos caught).
const OUTAGE: &str = "
    CREATE TABLE record_outage (since timestamptz NOT NULL DEFAULT now());
    INSERT INTO record_outage DEFAULT VALUES;
    CREATE FUNCTION kill_success_writes() RETURNS trigger AS $$
    BEGIN
        IF NEW.status = 'SUCCESS' AND EXISTS (SELECT 1 FROM record_outage) THEN
            PERFORM pg_terminate_backend(pg_backend_pid());
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql;
    CREATE TRIGGER kill_success_writes BEFORE UPDATE ON task_records
        FOR EACH ROW EXECUTE FUNCTION kill_success_writes();
";

/// A payments-queue task of `job_name` with no payment, retried onto `storage`.
fn task_info<'a>(
    job_name: &'static str,
    task: &'a TaskRef,
    storage: &'a RedisStorage<PaymentJob>,
    job: &'a PaymentJob,
) -> TaskInfo<'a, PaymentJob> {
    TaskInfo {
        job_name,
        task,
        payment_id: None,
        retry_on: storage,
        job,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_work_is_recorded_success_after_the_database_drops_the_write() {
    let env = TestEnv::new().await;
    env.db
        .conn()
        .await
        .batch_execute(OUTAGE)
        .await
        .expect("outage trigger");
    let task = TaskRef::parse_str("record-outage");
    let job = PaymentJob::ManualPaymentCancellation {
        payment_id: PaymentId::new(),
        actor: Actor::new(AuditSource::Staff, "staff@example.com"),
    };
    let storage = env.queue.payments_storage();
    let info = task_info("record_outage_test", &task, &storage, &job);
    let pool = env.db.pool().clone();
    let outage_ends = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut conn = pool.get().await.expect("connection");
        diesel::sql_query("DELETE FROM record_outage")
            .execute(&mut conn)
            .await
            .expect("outage over")
    });

    let result = run_tracked(&env.ctx, info, async { Ok(json!({ "done": true })) })
        .await
        .expect("the work succeeded");

    assert_eq!(result, json!({ "done": true }));
    assert_eq!(
        outage_ends.await.expect("outage task"),
        1,
        "the outage was still on when the work finished"
    );
    let record = TaskRecord::find(&mut *env.db.conn().await, "record-outage")
        .await
        .expect("read")
        .expect("record");
    assert_eq!(record.state(), TaskState::Success, "{record:?}");
    assert_eq!(record.result, Some(json!({ "done": true })));
}

fn manual_job() -> PaymentJob {
    PaymentJob::ManualPaymentCancellation {
        payment_id: PaymentId::new(),
        actor: Actor::new(AuditSource::Staff, "staff@example.com"),
    }
}

async fn record_of(env: &TestEnv, id: &str) -> TaskRecord {
    TaskRecord::find(&mut *env.db.conn().await, id)
        .await
        .expect("read")
        .expect("record")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_task_runs_as_started_with_its_attempt_and_without_the_last_error() {
    let env = TestEnv::new().await;
    let job = manual_job();
    let task = TaskRef::parse_str("retried-task~2");
    {
        let mut db = env.db.conn().await;
        TaskRecord::create(&mut db, "retried-task", "record_test", None, None)
            .await
            .expect("create");
        TaskRecord::transition(
            &mut db,
            "retried-task",
            TaskState::Retry,
            1,
            None,
            Some("boom"),
        )
        .await
        .expect("retry");
    }
    let storage = env.queue.payments_storage();
    let info = task_info("record_test", &task, &storage, &job);

    let seen_while_running = run_tracked(&env.ctx, info, async {
        let record = record_of(&env, "retried-task").await;
        Ok(json!({ "state": record.status, "attempts": record.attempts, "error": record.error }))
    })
    .await
    .expect("ran");

    assert_eq!(
        seen_while_running,
        json!({ "state": "STARTED", "attempts": 2, "error": null })
    );
    let record = record_of(&env, "retried-task").await;
    assert_eq!(record.state(), TaskState::Success);
    assert_eq!(record.attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_after_its_worker_died_counts_as_another_attempt() {
    // apalis re-runs a dead worker's job under the same attempt number.
    let env = TestEnv::new().await;
    let job = manual_job();
    let task = TaskRef::parse_str("crashed-task");
    {
        let mut db = env.db.conn().await;
        TaskRecord::create(&mut db, "crashed-task", "record_test", None, None)
            .await
            .expect("create");
        // The first run got as far as starting, then its worker died.
        TaskRecord::start(&mut db, "crashed-task", "record_test", None, 1)
            .await
            .expect("first start");
    }
    let storage = env.queue.payments_storage();
    let info = task_info("record_test", &task, &storage, &job);

    run_tracked(&env.ctx, info, async { Ok(json!({})) })
        .await
        .expect("ran");

    let record = record_of(&env, "crashed-task").await;
    assert_eq!(record.state(), TaskState::Success);
    assert_eq!(record.attempts, 2, "{record:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_pushed_without_a_record_gets_one_and_a_finished_task_is_not_run_again() {
    let env = TestEnv::new().await;
    let job = manual_job();
    let task = TaskRef::parse_str("pushed-by-hand");
    let storage = env.queue.payments_storage();
    let info = || task_info("record_test", &task, &storage, &job);

    let first = run_tracked(&env.ctx, info(), async { Ok(json!({ "run": 1 })) })
        .await
        .expect("first delivery");
    let second = run_tracked(&env.ctx, info(), async { Ok(json!({ "run": 2 })) })
        .await
        .expect("second delivery");

    assert_eq!(first, json!({ "run": 1 }));
    assert_eq!(second["duplicate"], json!(true), "{second}");
    let record = record_of(&env, "pushed-by-hand").await;
    assert_eq!(record.job_name, "record_test");
    assert_eq!(record.state(), TaskState::Success);
    assert_eq!(record.result, Some(json!({ "run": 1 })));
}
