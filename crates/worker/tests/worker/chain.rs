//! The sweep chain: one at most, its delays, its dead-man switch.

use crate::support::{TestEnv, is_success};
use domain::jobs::{CleanExpiredSessions, SWEEP_QUEUE, SweepTrigger};
use domain::models::sweep_run::SweepRun;
use domain::testing::FakeStripe;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use worker::chain::{self, ChainHealth};
use worker::queue::queue_config;
use worker::tasks::TaskRef;
use worker::{ChainEnsured, ensure_chain};

/// Ids in the sweep queue's scheduled set, with their due time.
async fn scheduled(env: &TestEnv) -> Vec<(String, f64)> {
    let config = queue_config(&env.prefix, SWEEP_QUEUE);
    let mut conn = env.queue.redis();
    redis::cmd("ZRANGE")
        .arg(config.scheduled_jobs_set())
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut conn)
        .await
        .expect("zrange")
}

async fn status(env: &TestEnv) -> chain::ChainStatus {
    chain::chain_status(
        &env.queue,
        &mut *env.db.conn().await,
        Duration::from_secs(30),
    )
    .await
    .expect("status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chain_singleton_survives_three_workers_and_three_start_calls() {
    // The first link waits an hour, so what is scheduled can be counted.
    let env = TestEnv::with(&[
        ("AUTO_CLEANUP", "true"),
        ("CLEANUP_INITIAL_DELAY_SECS", "3600"),
    ])
    .await;
    let (a, b, c) = tokio::join!(env.start_worker(), env.start_worker(), env.start_worker());
    let calls = futures::future::join_all((0..3).map(|_| async {
        ensure_chain(
            &env.queue,
            &mut *env.db.conn().await,
            Some(Duration::from_secs(3600)),
            false,
        )
        .await
        .expect("ensure_chain")
    }))
    .await;
    assert!(
        calls
            .iter()
            .all(|c| matches!(c, ChainEnsured::AlreadyRunning { .. })),
        "{calls:?}"
    );
    let links = scheduled(&env).await;
    assert_eq!(links.len(), 1, "exactly one scheduled sweep: {links:?}");
    let st = status(&env).await;
    assert_eq!(st.health, ChainHealth::Healthy);
    assert_eq!(st.task_id.as_deref(), Some(links[0].0.as_str()));

    // start_auto_cleanup replaces the chain: still exactly one.
    let replaced = ensure_chain(
        &env.queue,
        &mut *env.db.conn().await,
        Some(Duration::from_secs(60)),
        true,
    )
    .await
    .expect("replace");
    let ChainEnsured::Replaced { task_id, .. } = &replaced else {
        panic!("expected a replacement: {replaced:?}");
    };
    let links = scheduled(&env).await;
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(&links[0].0, task_id);
    let old = env.task(calls[0].task_id()).await.expect("old record");
    assert!(is_success(&old), "the replaced link is closed: {old:?}");
    for w in [a, b, c] {
        w.shutdown().await;
    }
    assert_eq!(scheduled(&env).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_replacements_leave_exactly_one_scheduled_link() {
    let env = TestEnv::with(&[("AUTO_CLEANUP", "false")]).await;
    for round in 0..3 {
        let calls = futures::future::join_all((0..6).map(|_| async {
            ensure_chain(
                &env.queue,
                &mut *env.db.conn().await,
                Some(Duration::from_secs(3600)),
                true,
            )
            .await
            .expect("replace")
        }))
        .await;
        let links = scheduled(&env).await;
        assert_eq!(links.len(), 1, "round {round}: {links:?}");
        let current = status(&env).await.task_id.expect("a chain");
        assert_eq!(links[0].0, current, "round {round}");
        for call in &calls {
            let id = call.task_id();
            if id == current {
                continue;
            }
            if let Some(record) = env.task(id).await {
                assert!(
                    is_success(&record),
                    "round {round}: a replaced link is closed, not left PENDING: {record:?}"
                );
            }
        }
    }
}

/// Runs the chain's current link in place, as the worker would.
async fn run_current_link(env: &TestEnv, ctx: &worker::AppContext) -> serde_json::Value {
    let st = status(env).await;
    let task_id = st.task_id.expect("a link");
    // As a worker's fetch would, take the link out of the scheduled set.
    chain::unschedule(&env.queue, &task_id)
        .await
        .expect("fetched");
    let job = CleanExpiredSessions {
        trigger: SweepTrigger::Chain,
        dry_run: false,
        force: false,
        chain_token: st.token,
    };
    worker::jobs::clean_expired_sessions::run(ctx, &job, &TaskRef::parse_str(&task_id))
        .await
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }))
}

/// The next link's delay from now, in seconds.
async fn next_delay(env: &TestEnv) -> f64 {
    let links = scheduled(env).await;
    assert_eq!(links.len(), 1, "{links:?}");
    links[0].1 - OffsetDateTime::now_utc().unix_timestamp() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn next_link_delay_is_busy_idle_or_error_by_outcome() {
    let env = TestEnv::with(&[
        ("CLEANUP_INTERVAL_BUSY_SECS", "1000"),
        ("CLEANUP_INTERVAL_IDLE_SECS", "2000"),
        ("CLEANUP_INTERVAL_ERROR_SECS", "3000"),
    ])
    .await;
    let fake = Arc::new(FakeStripe::new());
    let ctx = env.context_with(env.config(), fake.clone());
    ensure_chain(
        &env.queue,
        &mut *env.db.conn().await,
        Some(Duration::from_secs(5000)),
        false,
    )
    .await
    .expect("seeded");

    // Nothing to do: idle.
    let idle = run_current_link(&env, &ctx).await;
    assert_eq!(idle["outcome"], "idle", "{idle}");
    let d = next_delay(&env).await;
    assert!((1995.0..=2001.0).contains(&d), "idle delay {d}");
    let run = SweepRun::latest_chain_run(&mut *env.db.conn().await)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.outcome, "idle");
    assert!(
        run.next_run_at.is_some(),
        "the heartbeat holds the next run"
    );

    // An expired payment to fix: busy.
    let payment = checkout_with(&env, fake.as_ref()).await;
    env.backdate_expiry(&payment).await;
    let busy = run_current_link(&env, &ctx).await;
    assert_eq!(busy["outcome"], "fixed", "{busy}");
    let d = next_delay(&env).await;
    assert!((995.0..=1001.0).contains(&d), "busy delay {d}");

    // Stripe down while a candidate waits: error.
    let payment = checkout_with(&env, fake.as_ref()).await;
    env.backdate_expiry(&payment).await;
    fake.set_unreachable(true);
    let error = run_current_link(&env, &ctx).await;
    assert_eq!(error["outcome"], "error", "{error}");
    let d = next_delay(&env).await;
    assert!((2995.0..=3001.0).contains(&d), "error delay {d}");
    assert_eq!(status(&env).await.last_outcome.as_deref(), Some("error"));
}

async fn checkout_with(
    env: &TestEnv,
    gateway: &dyn domain::gateway::StripeGateway,
) -> domain::models::payment::Payment {
    use domain::services::{CheckoutItem, CheckoutRequest, CheckoutSettings, checkout};
    let settings = CheckoutSettings {
        session_ttl: Duration::from_secs(1900),
        success_url: "http://shop.test/ok".into(),
        cancel_url: "http://shop.test/cart".into(),
    };
    let request = CheckoutRequest {
        user_id: env.fixtures.user,
        customer_email: None,
        items: vec![CheckoutItem {
            product_id: env.fixtures.product,
            quantity: 1,
        }],
        coupon_code: None,
    };
    checkout(&mut *env.db.conn().await, gateway, &settings, &request)
        .await
        .expect("checkout")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_chain_runs_itself_and_reschedules_through_a_worker() {
    let env = TestEnv::with(&[
        ("AUTO_CLEANUP", "true"),
        ("CLEANUP_INITIAL_DELAY_SECS", "0"),
        ("CLEANUP_INTERVAL_IDLE_SECS", "1"),
    ])
    .await;
    let worker = env.start_worker().await;
    // Idle runs every second: a few links go by, each one scheduling the next.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let st = status(&env).await;
        if st.seq.unwrap_or(0) >= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the chain did not advance: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first = chain::link_id(status(&env).await.token.as_deref().unwrap(), 1);
    let record = env.task(&first).await.expect("first link recorded");
    assert!(is_success(&record), "{record:?}");
    assert_eq!(record.result.unwrap()["outcome"], "idle");
    assert!(scheduled(&env).await.len() <= 1);
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_off_sweeps_never_add_a_chain() {
    let env = TestEnv::new().await;
    let worker = env.start_worker().await;
    let record = env.run_oneoff_sweep(false).await;
    assert!(is_success(&record), "{record:?}");
    assert_eq!(status(&env).await.health, ChainHealth::Missing);
    assert!(scheduled(&env).await.is_empty());
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dead_man_switch_reseeds_a_chain_whose_scheduled_job_was_deleted() {
    worker::metrics::install();
    let env = TestEnv::with(&[
        ("AUTO_CLEANUP", "true"),
        ("CLEANUP_INITIAL_DELAY_SECS", "3600"),
    ])
    .await;
    let worker = env.start_worker().await;
    let before = status(&env).await;
    assert_eq!(before.health, ChainHealth::Healthy);
    let lost = before.task_id.clone().unwrap();

    // What a flush of the queue does to the scheduled link.
    let config = queue_config(&env.prefix, SWEEP_QUEUE);
    let mut conn = env.queue.redis();
    let _: () = redis::pipe()
        .zrem(config.scheduled_jobs_set(), &lost)
        .hdel(config.job_data_hash(), &lost)
        .del(format!("{}:{lost}", config.job_meta_hash()))
        .query_async(&mut conn)
        .await
        .expect("deleted");
    let reseeded = wait_for_new_link(&env, &lost).await;
    assert_ne!(reseeded.token, before.token, "a new chain generation");

    // A flush of everything of this deployment: chain key, queues, the
    // workers' registrations (they fail, restart and re-register).
    env.lose_redis_data().await;
    let again = wait_for_new_link(&env, reseeded.task_id.as_deref().unwrap()).await;
    assert_eq!(again.health, ChainHealth::Healthy);
    assert!(scheduled(&env).await.len() <= 1);
    // The workers, unregistered by the flush, restarted by themselves.
    assert!(is_success(&env.run_oneoff_sweep(true).await));
    let metrics = worker::metrics::install().render();
    assert!(
        metrics.contains("payments_sweep_chain_reseeds_total"),
        "{metrics}"
    );
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_lost_with_redis_data_is_closed_as_failure_when_the_chain_is_reseeded() {
    let env = TestEnv::new().await;
    let started = ensure_chain(
        &env.queue,
        &mut *env.db.conn().await,
        Some(Duration::from_secs(3600)),
        false,
    )
    .await
    .expect("seeded");
    let lost = started.task_id().to_owned();
    // Redis restarted without persistence: chain key and queues are gone.
    env.lose_redis_data().await;

    chain::deadman_check(&env.ctx)
        .await
        .expect("dead-man check");

    let record = env.task(&lost).await.expect("the lost link's record");
    assert_eq!(record.status, "FAILURE", "{record:?}");
    assert!(
        record
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("lost")),
        "{record:?}"
    );
    let now = status(&env).await;
    assert_eq!(now.health, ChainHealth::Healthy);
    let new = now.task_id.expect("a new link");
    assert_ne!(new, lost);
    assert_eq!(env.task(&new).await.expect("new record").status, "PENDING");
}

async fn wait_for_new_link(env: &TestEnv, old: &str) -> chain::ChainStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let st = status(env).await;
        if st.task_id.as_deref().is_some_and(|t| t != old) && st.health == ChainHealth::Healthy {
            return st;
        }
        assert!(Instant::now() < deadline, "not re-seeded: {st:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn auto_cleanup_false_starts_no_chain() {
    let env = TestEnv::with(&[("AUTO_CLEANUP", "false")]).await;
    let worker = env.start_worker().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(status(&env).await.health, ChainHealth::Missing);
    assert!(scheduled(&env).await.is_empty());
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_link_run_twice_keeps_exactly_one_next_link() {
    let env = TestEnv::new().await;
    let fake = Arc::new(FakeStripe::new());
    let ctx = env.context_with(env.config(), fake);
    ensure_chain(
        &env.queue,
        &mut *env.db.conn().await,
        Some(Duration::from_secs(5000)),
        false,
    )
    .await
    .expect("seeded");
    let st = status(&env).await;
    let link = st.task_id.clone().unwrap();
    chain::unschedule(&env.queue, &link).await.expect("fetched");
    let job = CleanExpiredSessions {
        trigger: SweepTrigger::Chain,
        dry_run: false,
        force: false,
        chain_token: st.token.clone(),
    };
    let task = TaskRef::parse_str(&link);
    let run = worker::jobs::clean_expired_sessions::run;
    // As when a worker is presumed dead and its link re-run by another.
    let (first, second) = tokio::join!(run(&ctx, &job, &task), run(&ctx, &job, &task));
    assert!(first.is_ok() && second.is_ok(), "{first:?} {second:?}");
    let links = scheduled(&env).await;
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(
        status(&env).await.task_id.as_deref(),
        Some(links[0].0.as_str())
    );
    assert_eq!(status(&env).await.health, ChainHealth::Healthy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_overdue_chain_is_replaced_once_by_the_dead_man_switch() {
    let env = TestEnv::new().await;
    ensure_chain(
        &env.queue,
        &mut *env.db.conn().await,
        Some(Duration::from_secs(3600)),
        false,
    )
    .await
    .expect("seeded");
    let before = status(&env).await;
    // Its next run was due long ago and nobody ran it.
    let mut conn = env.queue.redis();
    let _: () = redis::cmd("HSET")
        .arg(chain::chain_key(&env.prefix))
        .arg("next_run_at")
        .arg(OffsetDateTime::now_utc().unix_timestamp() - 3600)
        .query_async(&mut conn)
        .await
        .expect("backdated");
    assert_eq!(status(&env).await.health, ChainHealth::Overdue);
    // Three workers notice at once: one repairs, the others find the chain
    // repaired (or lose the compare-and-swap on the token).
    let checks = futures::future::join_all((0..3).map(|_| chain::deadman_check(&env.ctx))).await;
    assert!(checks.iter().all(Result::is_ok), "{checks:?}");
    assert!(
        checks.iter().any(|c| matches!(c, Ok(ChainHealth::Overdue))),
        "{checks:?}"
    );
    let after = status(&env).await;
    assert_eq!(after.health, ChainHealth::Healthy);
    assert_ne!(after.token, before.token);
    assert_eq!(
        scheduled(&env).await.len(),
        1,
        "the overdue link was replaced, not joined"
    );
}
