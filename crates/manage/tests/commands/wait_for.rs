use domain::testing::TestDatabase;
use manage::commands::{wait_for_db, wait_for_redis};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A loopback port nothing listens on (bound, then released).
fn unused_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn wait_for_db_answers_at_once_when_postgres_is_up() {
    let db = TestDatabase::new().await;
    let opts = wait_for_db::Opts {
        timeout: 10,
        interval: 1,
    };

    let ready = wait_for_db::run(db.url(), &opts).await.unwrap();

    assert_eq!(ready.attempts, 1);
}

#[tokio::test]
async fn wait_for_db_refuses_a_url_that_is_not_postgres_at_once() {
    let opts = wait_for_db::Opts {
        timeout: 30,
        interval: 1,
    };
    let started = Instant::now();

    let error = wait_for_db::run("mysql://root:hunter2@127.0.0.1/shop", &opts)
        .await
        .unwrap_err()
        .to_string();

    assert!(started.elapsed() < Duration::from_secs(1), "no waiting");
    assert!(error.starts_with("DATABASE_URL:"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}

#[tokio::test]
async fn wait_for_db_on_an_unreachable_port_fails_within_the_timeout() {
    let url = format!(
        "postgres://postgres:hunter2@127.0.0.1:{}/payments",
        unused_port()
    );
    let opts = wait_for_db::Opts {
        timeout: 2,
        interval: 1,
    };
    let started = Instant::now();

    let error = wait_for_db::run(&url, &opts).await.unwrap_err();

    assert!(
        started.elapsed() <= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let reason = manage::messages::one_line(&error);
    assert!(reason.contains("not ready within 2s"), "{reason}");
    assert!(!reason.contains('\n'));
    assert!(!reason.contains("hunter2"), "password leaked: {reason}");
}

#[tokio::test]
async fn wait_for_redis_on_an_unreachable_port_fails_within_the_timeout() {
    let opts = wait_for_redis::Opts {
        redis_url: format!("redis://127.0.0.1:{}", unused_port()),
        timeout: 1,
        interval: 1,
    };
    let started = Instant::now();

    let error = wait_for_redis::run(&opts).await.unwrap_err();

    assert!(started.elapsed() <= Duration::from_secs(2));
    assert!(error.to_string().starts_with("Redis at redis://127.0.0.1:"));
}

#[tokio::test]
async fn wait_for_redis_answers_when_redis_is_up() {
    let opts = wait_for_redis::Opts {
        redis_url: std::env::var("REDIS_URL")
            .unwrap_or_else(|_| wait_for_redis::DEFAULT_REDIS_URL.to_owned()),
        timeout: 10,
        interval: 1,
    };

    let ready = wait_for_redis::run(&opts).await.unwrap();

    assert!(ready.attempts >= 1);
}
