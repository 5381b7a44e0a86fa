//! Operations: pickup latency, a worker killed mid-job, graceful shutdown,
//! Redis restarts, the board.

use crate::support::{TestEnv, is_success, staff_cancellation};
use apalis::prelude::{TaskBuilder, TaskId, TaskSink};
use domain::PaymentStatus;
use domain::models::task::TaskState;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use stripe_emulator::Fault;

/// The next expire call to Stripe takes `ms` milliseconds.
fn slow_expire(env: &TestEnv, ms: u64) {
    env.emulator.inject_fault(Fault {
        count: 1,
        status: None,
        retry_after: None,
        delay_ms: ms,
        path_prefix: Some("/v1/checkout/sessions/".into()),
        method: Some("POST".into()),
    });
}

fn spawn_worker(env: &TestEnv) -> Child {
    spawn_worker_logging(env, "text", Stdio::null())
}

fn spawn_worker_logging(env: &TestEnv, format: &str, logs: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_payments-worker"))
        .env_clear()
        .envs(env.env_vars())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LOG_FORMAT", format)
        .stdout(logs)
        .stderr(Stdio::null())
        .spawn()
        .expect("payments-worker starts")
}

/// SIGTERM, then the exit status once the worker is gone.
async fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            return exit;
        }
        assert!(Instant::now() < deadline, "worker did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A push nobody announced (the announcement lost while a subscription
/// was being re-made) is found by the poll timer; apalis alone would wait
/// for its heartbeat, set here far beyond the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unannounced_job_on_an_idle_worker_starts_at_the_next_poll() {
    let env = TestEnv::with(&[("WORKER_HEARTBEAT_SECS", "300")]).await;
    let worker = env.start_worker().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let payment = env.checkout().await;
    let id = ulid::Ulid::generate().to_string();
    let started = Instant::now();
    env.queue
        .payments_storage()
        .push_task(
            TaskBuilder::new(staff_cancellation(&payment))
                .task_id(TaskId::from_string(id.clone()))
                .build(),
        )
        .await
        .expect("pushed");
    env.wait_task(&id, Duration::from_secs(5), |r| {
        r.state() != TaskState::Pending
    })
    .await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "picked up after {took:?}");
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_job_has_its_job_completed_by_another() {
    let env = TestEnv::new().await;
    let payment = env.checkout().await;
    slow_expire(&env, 4000);
    let mut first = spawn_worker(&env);
    let id = env.enqueue(staff_cancellation(&payment)).await;
    env.wait_task(&id, Duration::from_secs(20), |r| {
        r.state() == TaskState::Started
    })
    .await;
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    let killed_at = Instant::now();
    let mut second = spawn_worker(&env);
    let record = env.wait_finished(&id, Duration::from_secs(30)).await;
    let took = killed_at.elapsed();
    second.kill().ok();
    second.wait().ok();
    assert!(is_success(&record), "{record:?}");
    assert!(took < Duration::from_secs(15), "recovered after {took:?}");
    assert_eq!(env.payment(&payment).await.status, PaymentStatus::Cancelled);
    env.assert_invariants().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_lets_the_running_job_finish_before_exit() {
    // The grace ends a heartbeat before the others would take the job
    // back: 14 s here, longer than the 2 s the job takes.
    let env = TestEnv::with(&[("WORKER_MISSED_HEARTBEATS", "15")]).await;
    let payment = env.checkout().await;
    slow_expire(&env, 2000);
    let mut child = spawn_worker(&env);
    let id = env.enqueue(staff_cancellation(&payment)).await;
    env.wait_task(&id, Duration::from_secs(20), |r| {
        r.state() == TaskState::Started
    })
    .await;
    let exit = terminate(&mut child).await;
    assert!(exit.success(), "{exit:?}");
    let record = env.task(&id).await.expect("record");
    assert!(is_success(&record), "finished before exit: {record:?}");
    // It left no name behind looking alive (apalis's close path would).
    let config = worker::queue::queue_config(&env.prefix, domain::jobs::PAYMENTS_QUEUE);
    let mut conn = env.queue.redis();
    let workers: u64 = redis::cmd("ZCARD")
        .arg(config.workers_set())
        .query_async(&mut conn)
        .await
        .expect("zcard");
    assert_eq!(workers, 0);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn redis_server(port: u16) -> Child {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_worker_survives_a_redis_restart_without_a_process_restart() {
    let port = free_port();
    let mut redis = redis_server(port);
    let url = format!("redis://127.0.0.1:{port}");
    let env = TestEnv::with(&[("REDIS_URL", &url)]).await;
    let worker = env.start_worker().await;
    let before = env.checkout().await;
    let id = env.enqueue(staff_cancellation(&before)).await;
    assert!(is_success(
        &env.wait_finished(&id, Duration::from_secs(10)).await
    ));

    redis.kill().expect("stop Redis");
    redis.wait().expect("reaped");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut redis = redis_server(port);

    let after = env.checkout().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let id = loop {
        // The connection manager reconnects; the first push may still fail.
        match env
            .queue
            .enqueue(
                &mut *env.db.conn().await,
                staff_cancellation(&after),
                None,
                None,
            )
            .await
        {
            Ok(id) => break id,
            Err(e) => {
                assert!(Instant::now() < deadline, "Redis not back: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let record = env.wait_finished(&id, Duration::from_secs(20)).await;
    assert!(is_success(&record), "{record:?}");
    assert_eq!(env.payment(&after).await.status, PaymentStatus::Cancelled);
    worker.shutdown().await;
    redis.kill().ok();
    redis.wait().ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_board_shows_queues_tasks_workers_chain_health_and_metrics() {
    let env = TestEnv::with(&[
        ("AUTO_CLEANUP", "true"),
        ("CLEANUP_INITIAL_DELAY_SECS", "3600"),
    ])
    .await;
    let worker = env.start_worker().await;
    let payment = env.checkout().await;
    let id = env.enqueue(staff_cancellation(&payment)).await;
    env.wait_finished(&id, Duration::from_secs(10)).await;
    let base = format!("http://{}", worker.board_addr().expect("board"));
    let http = reqwest::Client::new();
    let health = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let overview: serde_json::Value = http
        .get(format!("{base}/ops/api/overview"))
        .send()
        .await
        .expect("overview")
        .json()
        .await
        .expect("json");
    assert_eq!(
        overview["queues"].as_array().unwrap().len(),
        2,
        "{overview}"
    );
    assert_eq!(overview["chain"]["health"], "healthy", "{overview}");
    assert!(
        overview["recent_tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == id && t["state"] == "SUCCESS" && t["attempts"] == 1),
        "{overview}"
    );
    assert!(
        overview["workers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["alive"] == true)
    );
    let page = http
        .get(format!("{base}/ops"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("manual_payment_cancellation"));
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("payments_jobs_total"), "{metrics}");
    assert!(metrics.contains("payments_queue_depth"), "{metrics}");
    // Histograms (not summaries), so replicas can be added up.
    assert!(
        metrics.contains("payments_job_duration_seconds_bucket{"),
        "{metrics}"
    );
    // apalis-board's working parts: its UI at the root, a task by id.
    let ui = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(ui.status(), 200);
    let task = http
        .get(format!(
            "{base}/api/v1/queues/{}/tasks/{id}",
            domain::jobs::PAYMENTS_QUEUE
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(task.status(), 200);
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreadable_job_payload_does_not_stop_the_worker() {
    let env = TestEnv::new().await;
    let worker = env.start_worker().await;
    let raw: apalis_redis::RedisStorage<serde_json::Value> =
        apalis_redis::RedisStorage::new(env.queue.redis()).with_config(
            worker::queue::queue_config(&env.prefix, domain::jobs::PAYMENTS_QUEUE),
        );
    worker::tasks::push_with_id(
        &raw,
        serde_json::json!({ "job": "no_such_job", "x": 1 }),
        "bad-payload-1",
        Duration::ZERO,
    )
    .await
    .expect("pushed");
    let payment = env.checkout().await;
    let id = env.enqueue(staff_cancellation(&payment)).await;
    let record = env.wait_finished(&id, Duration::from_secs(15)).await;
    assert!(is_success(&record), "{record:?}");
    let config = worker::queue::queue_config(&env.prefix, domain::jobs::PAYMENTS_QUEUE);
    let mut conn = env.queue.redis();
    let meta: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg(format!("{}:bad-payload-1", config.job_meta_hash()))
        .query_async(&mut conn)
        .await
        .expect("meta");
    let scheduled: Option<f64> = redis::cmd("ZSCORE")
        .arg(config.scheduled_jobs_set())
        .arg("bad-payload-1")
        .query_async(&mut conn)
        .await
        .expect("zscore");
    assert_eq!(
        meta.get("status").map(String::as_str),
        Some("Killed"),
        "{meta:?}"
    );
    assert_eq!(scheduled, None, "not retried");
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_log_format_json_the_binary_logs_flat_json_lines() {
    let env = TestEnv::new().await;
    let payment = env.checkout().await;
    let log_path = std::env::temp_dir().join(format!("payments-worker-{}.log", env.prefix));
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut child = spawn_worker_logging(&env, "json", Stdio::from(log));
    let id = env.enqueue(staff_cancellation(&payment)).await;
    let record = env.wait_finished(&id, Duration::from_secs(20)).await;
    assert!(is_success(&record), "{record:?}");
    assert!(terminate(&mut child).await.success());

    let logs = std::fs::read_to_string(&log_path).expect("worker log");
    let _ = std::fs::remove_file(&log_path);
    let lines = domain::testing::flat_json_lines("the worker's logs", &logs);
    for message in [
        "payments-worker running",
        "payment transition",
        "payments-worker stopped",
    ] {
        assert!(
            lines
                .iter()
                .any(|line| line["message"] == message && line["target"] == "payments"),
            "{message:?} in {logs}"
        );
    }
    // A job's lines name its task, at the default level, so an operator
    // can go from `task_status` to the logs.
    let transition = lines
        .iter()
        .find(|line| line["message"] == "payment transition")
        .expect("a transition line");
    assert_eq!(transition["span"]["task_id"], id.as_str(), "{transition:?}");
    assert_eq!(
        transition["span"]["payment_id"],
        payment.id.to_string(),
        "{transition:?}"
    );
    // Values are plain, never Rust's debug text (`Some(…)`, `None`).
    let debug_text: Vec<_> = lines
        .iter()
        .flat_map(|line| line.values())
        .filter_map(|value| value.as_str())
        .filter(|text| text.starts_with("Some(") || *text == "None")
        .collect();
    assert!(debug_text.is_empty(), "{debug_text:?} in {logs}");
}

#[test]
fn a_bad_setting_stops_the_binary_at_start_naming_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_payments-worker"))
        .env_clear()
        .env("CLEANUP_INTERVAL_BUSY_SECS", "five minutes")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CLEANUP_INTERVAL_BUSY_SECS"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_longer_than_the_orphan_timeout_is_not_taken_by_another_worker() {
    // Orphans are taken back after 1 s × 3 missed heartbeats; the job
    // takes 4.5 s. A busy worker keeps beating, so nobody steals it.
    let env = TestEnv::new().await;
    let payment = env.checkout().await;
    let config = env.config();
    let mut busy = config.clone();
    busy.worker_concurrency = 1;
    let a = env.start_worker_with(busy).await;
    slow_expire(&env, 4500);
    let id = env.enqueue(staff_cancellation(&payment)).await;
    env.wait_task(&id, Duration::from_secs(10), |r| {
        r.state() == TaskState::Started
    })
    .await;
    let b = env.start_worker_with(config).await;
    let record = env.wait_finished(&id, Duration::from_secs(20)).await;
    assert!(is_success(&record), "{record:?}");
    let mut conn = env.queue.redis();
    let starts: u32 = redis::cmd("GET")
        .arg(format!("{}worker:starts:{id}", env.prefix))
        .query_async(&mut conn)
        .await
        .expect("counter");
    assert_eq!(starts, 1, "the job ran once");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_without_the_sweep_chain_still_exports_the_backlog_it_should_clear() {
    // AUTO_CLEANUP=false (the test default): this worker leaves the sweep
    // to someone else, and the stuck-pending alert must still see it when
    // nobody runs it.
    let env = TestEnv::new().await;
    let payment = env.checkout().await;
    env.backdate_expiry(&payment).await;
    let worker = env.start_worker().await;
    let url = format!("http://{}/metrics", worker.board_addr().expect("board"));

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let metrics = reqwest::get(&url).await.unwrap().text().await.unwrap();
        if metrics
            .lines()
            .any(|l| l == "payments_open_expired_payments 1")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "backlog not exported:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgresql_down_the_board_still_shows_the_queues_and_says_why_the_rest_is_missing() {
    let env = TestEnv::new().await;
    let closed = TcpListener::bind("127.0.0.1:0").expect("port");
    let dead = format!(
        "postgres://postgres@127.0.0.1:{}/nowhere",
        closed.local_addr().expect("addr").port()
    );
    drop(closed);
    let ctx = worker::context::AppContext::new(
        env.config(),
        domain::db::pool(&dead, 1, Duration::from_millis(500)),
        std::sync::Arc::new(crate::support::stripe_client(env.emulator.base_url())),
        env.queue.clone(),
    );

    let overview = worker::board::overview(&ctx).await.expect("Redis is up");

    assert_eq!(overview.queues.len(), 2, "{overview:?}");
    assert!(overview.chain.is_none());
    let reason = overview.database_error.as_deref().unwrap_or_default();
    assert!(reason.to_lowercase().contains("refused"), "{reason}");
}
