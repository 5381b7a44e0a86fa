//! A task's record survives the database failing after the work is done.

use crate::support::TestEnv;
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
    let info = TaskInfo {
        job_name: "record_outage_test",
        task: &task,
        payment_id: None,
        retry_on: &storage,
        job: &job,
    };
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
