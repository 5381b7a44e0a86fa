//! Nothing grows forever: finished tasks leave Redis and PostgreSQL, and
//! tasks waiting to run are never touched.

use crate::support::TestEnv;
use domain::jobs::{PAYMENTS_QUEUE, PaymentJob};
use domain::models::task::{TaskRecord, TaskState};
use std::time::Duration;
use time::OffsetDateTime;
use worker::maintenance::{prune_redis, prune_worker_keys};
use worker::queue::queue_config;
use worker::tasks::push_with_id;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prune_removes_finished_tasks_but_never_scheduled_ones() {
    let env = TestEnv::new().await;
    let config = queue_config(&env.prefix, PAYMENTS_QUEUE);
    let storage = env.queue.payments_storage();
    let job = || PaymentJob::StripeEvent {
        event_id: "evt_x".into(),
    };
    for id in ["done-1", "dead-1", "waiting-1"] {
        push_with_id(&storage, job(), id, Duration::from_secs(3600))
            .await
            .expect("pushed");
    }
    // Finish two of them the way apalis does (set + meta).
    let mut conn = env.queue.redis();
    let old = OffsetDateTime::now_utc().unix_timestamp() - 10 * 86400;
    let _: () = redis::pipe()
        .zrem(config.scheduled_jobs_set(), &["done-1", "dead-1"])
        .sadd(config.done_jobs_set(), "done-1")
        .sadd(config.dead_jobs_set(), "dead-1")
        .hset_multiple(
            format!("{}:done-1", config.job_meta_hash()),
            &[("status", "Done"), ("done_at", &old.to_string())],
        )
        .hset_multiple(
            format!("{}:dead-1", config.job_meta_hash()),
            &[("status", "Killed"), ("done_at", &old.to_string())],
        )
        .hset(
            config
                .workers_set()
                .replace(":workers", ":workers:metadata:gone-worker"),
            "service",
            "x",
        )
        .query_async(&mut conn)
        .await
        .expect("finished");
    let cutoff = OffsetDateTime::now_utc().unix_timestamp() - 7 * 86400;
    let deleted = prune_redis(&mut conn, &env.prefix, cutoff)
        .await
        .expect("pruned");
    assert_eq!(deleted, 2);
    let (data, done, dead, waiting): (Vec<String>, u64, u64, Option<f64>) = redis::pipe()
        .hkeys(config.job_data_hash())
        .scard(config.done_jobs_set())
        .scard(config.dead_jobs_set())
        .zscore(config.scheduled_jobs_set(), "waiting-1")
        .query_async(&mut conn)
        .await
        .expect("read");
    assert_eq!(data, vec!["waiting-1".to_owned()]);
    assert_eq!((done, dead), (0, 0));
    assert!(waiting.is_some(), "a scheduled task is never pruned");
    assert_eq!(
        prune_worker_keys(&mut conn, &env.prefix)
            .await
            .expect("pruned"),
        1
    );

    // Task records: finished and old go, recent or unfinished stay.
    let mut db = env.db.conn().await;
    for id in ["done-a", "done-b", "pending-c"] {
        TaskRecord::create(&mut db, id, "stripe_event", None, None)
            .await
            .unwrap();
    }
    TaskRecord::transition(&mut db, "done-a", TaskState::Success, 1, None, None)
        .await
        .unwrap();
    TaskRecord::transition(&mut db, "done-b", TaskState::Success, 1, None, None)
        .await
        .unwrap();
    let later = OffsetDateTime::now_utc() + time::Duration::seconds(5);
    let n = TaskRecord::delete_finished_before(&mut db, later - time::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert!(
        TaskRecord::find(&mut db, "pending-c")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_sweep_runs_are_pruned_but_the_heartbeat_and_useful_runs_stay() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use domain::models::sweep_run::SweepRun;
    use domain::schema::sweep_runs as r;
    let env = TestEnv::new().await;
    let mut db = env.db.conn().await;
    let old = OffsetDateTime::now_utc() - time::Duration::days(10);
    let rows = [
        ("idle-old", "idle", 0, old),
        ("fixed-old", "fixed", 2, old),
        ("idle-latest", "idle", 0, old + time::Duration::hours(1)),
    ];
    let mut ids = Vec::new();
    for (name, outcome, found, at) in rows {
        let id = uuid::Uuid::now_v7();
        SweepRun::start(&mut db, id, "chain", Some(name), false)
            .await
            .unwrap();
        diesel::update(r::table.find(id))
            .set((
                r::outcome.eq(outcome),
                r::found.eq(found),
                r::started_at.eq(at),
                r::finished_at.eq(at),
            ))
            .execute(&mut db)
            .await
            .unwrap();
        ids.push(id);
    }
    let before = OffsetDateTime::now_utc() - time::Duration::days(7);
    let n = worker::maintenance::prune_idle_sweep_runs(&mut db, before)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let left: Vec<uuid::Uuid> = r::table
        .select(r::id)
        .order(r::started_at)
        .load(&mut db)
        .await
        .unwrap();
    assert_eq!(
        left,
        vec![ids[1], ids[2]],
        "useful runs and the heartbeat stay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_tasks_whose_job_vanished_from_redis_are_closed_as_lost() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use domain::schema::task_records as t;
    let env = TestEnv::new().await;
    let mut db = env.db.conn().await;
    // Recorded, pushed, then Redis lost it (restart without persistence).
    TaskRecord::create(
        &mut db,
        "lost-task",
        "checkout_session_completed",
        None,
        None,
    )
    .await
    .expect("record");
    let job = PaymentJob::for_event("checkout.session.completed", "evt_kept".into());
    let kept = env
        .queue
        .enqueue(&mut db, job, None, None)
        .await
        .expect("enqueued");
    let long_ago = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
    diesel::update(t::table)
        .set((t::created_at.eq(long_ago), t::updated_at.eq(long_ago)))
        .execute(&mut db)
        .await
        .expect("backdated");

    let closed = worker::maintenance::close_lost_tasks(&env.ctx)
        .await
        .expect("pass");

    assert_eq!(closed, 1);
    let lost = env.task("lost-task").await.expect("record");
    assert_eq!(lost.status, "FAILURE");
    assert!(
        lost.error.as_deref().is_some_and(|e| e.starts_with("lost")),
        "{lost:?}"
    );
    assert_eq!(env.task(&kept).await.expect("record").status, "PENDING");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_run_left_running_by_a_killed_worker_is_closed_as_interrupted() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use domain::models::sweep_run::SweepRun;
    use domain::schema::sweep_runs as r;
    let env = TestEnv::new().await;
    let mut db = env.db.conn().await;
    let (killed, live) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    for id in [killed, live] {
        SweepRun::start(&mut db, id, "chain", None, false)
            .await
            .unwrap();
    }
    // The killed worker's run started two hours ago and never finished.
    diesel::update(r::table.find(killed))
        .set(r::started_at.eq(OffsetDateTime::now_utc() - time::Duration::hours(2)))
        .execute(&mut db)
        .await
        .unwrap();

    let closed =
        worker::maintenance::close_interrupted_sweep_runs(&mut db, OffsetDateTime::now_utc())
            .await
            .unwrap();

    assert_eq!(closed, 1);
    let run = SweepRun::find(&mut db, killed).await.unwrap().unwrap();
    assert_eq!(run.outcome, "error");
    assert!(run.finished_at.is_some());
    assert!(
        run.error
            .as_deref()
            .is_some_and(|e| e.starts_with("interrupted")),
        "{run:?}"
    );
    let still = SweepRun::find(&mut db, live).await.unwrap().unwrap();
    assert_eq!(
        (still.outcome.as_str(), still.finished_at),
        ("running", None),
        "a run in progress is left alone"
    );
}
