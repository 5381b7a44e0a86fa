use crate::support::TestEnv;
use domain::jobs::SWEEP_QUEUE;
use manage::commands::start_auto_cleanup::{self, Opts, Plan};
use worker::queue::queue_config;
use worker::{ChainEnsured, ChainHealth};

fn opts(env: &TestEnv, delay: Option<u64>, dry_run: bool) -> Opts {
    Opts {
        delay,
        dry_run,
        overdue_grace_secs: 120,
        queue: env.queue_opts(),
    }
}

/// Ids in the sweep queue's scheduled set.
async fn scheduled(env: &TestEnv) -> Vec<(String, f64)> {
    let config = queue_config(&env.prefix, SWEEP_QUEUE);
    redis::cmd("ZRANGE")
        .arg(config.scheduled_jobs_set())
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut env.queue().await.redis())
        .await
        .expect("zrange")
}

async fn start(env: &TestEnv, delay: Option<u64>, dry_run: bool) -> start_auto_cleanup::Outcome {
    let queue = env.queue().await;
    start_auto_cleanup::run(
        &queue,
        &mut *env.db.conn().await,
        &opts(env, delay, dry_run),
    )
    .await
    .expect("start_auto_cleanup")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_auto_cleanup_twice_leaves_one_chain_and_delay_replaces_it() {
    let env = TestEnv::new().await;

    let first = start(&env, Some(3600), false).await;
    assert_eq!(first.plan, Plan::Start);
    assert!(
        matches!(first.result, Some(ChainEnsured::Started { .. })),
        "{first:?}"
    );
    let second = start(&env, None, false).await;
    assert_eq!(second.plan, Plan::KeepRunning);
    assert_eq!(second.before.health, ChainHealth::Healthy);
    assert_eq!(second.result, None);
    let links = scheduled(&env).await;
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0].0, first.result.as_ref().unwrap().task_id());

    let replaced = start(&env, Some(7200), false).await;
    assert_eq!(replaced.plan, Plan::Replace);
    let Some(ChainEnsured::Replaced { task_id, .. }) = &replaced.result else {
        panic!("not replaced: {replaced:?}");
    };
    let links = scheduled(&env).await;
    assert_eq!(links.len(), 1, "still one chain: {links:?}");
    assert_eq!(&links[0].0, task_id);
    let due_in = links[0].1 - time::OffsetDateTime::now_utc().unix_timestamp() as f64;
    assert!((7000.0..=7300.0).contains(&due_in), "next run in {due_in}s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_auto_cleanup_dry_run_reports_the_plan_and_changes_nothing() {
    let env = TestEnv::new().await;
    let keys = env.redis_keys().await;
    let tables = env.dump_tables().await;

    let outcome = start(&env, Some(300), true).await;

    assert_eq!(outcome.plan, Plan::Start);
    assert_eq!(outcome.before.health, ChainHealth::Missing);
    assert_eq!(outcome.result, None);
    assert!(
        outcome
            .summary()
            .starts_with("no sweep chain existed: would start one"),
        "{}",
        outcome.summary()
    );
    assert_eq!(env.redis_keys().await, keys, "Redis changed");
    assert_eq!(env.dump_tables().await, tables, "the database changed");
    assert!(scheduled(&env).await.is_empty());
}
