//! The built binary, as operators and container health checks run it.

use crate::support::TestEnv;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// `manage` pointed at the test's database, Redis and emulator, as a
/// script runs it (stderr not a terminal, no `RUST_LOG`).
fn command(env: &TestEnv) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_manage"));
    command
        .env("DATABASE_URL", env.db.url())
        .env("REDIS_URL", &env.redis_url)
        .env("QUEUE_PREFIX", &env.prefix)
        .env("STRIPE_API_BASE", env.emulator.base_url())
        .env("STRIPE_SECRET_KEY", "sk_test_manage")
        .env_remove("RUST_LOG");
    command
}

fn manage(env: &TestEnv, args: &[&str]) -> Output {
    command(env).args(args).output().expect("run manage")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", stderr(output));
    serde_json::from_str(&stdout(output)).unwrap_or_else(|e| panic!("{e}: {}", stdout(output)))
}

/// A one-shot HTTP server answering `status_line` on a free port.
fn http_server(status_line: &'static str) -> String {
    http_server_answering(status_line, "")
}

fn http_server_answering(status_line: &'static str, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/readyz", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let length = body.len();
            let reply = format!(
                "HTTP/1.1 {status_line}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n{body}"
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_operator_commands_print_json_that_parses() {
    let env = TestEnv::new().await;
    let payment = env.checkout().await;
    env.backdate_expiry(&payment).await;

    let sweep = json(&manage(
        &env,
        &["clean_expired_sessions", "--dry-run", "--json"],
    ));
    assert_eq!(sweep["dry_run"], true);
    assert_eq!(sweep["found"], 1, "{sweep}");
    let chain = json(&manage(
        &env,
        &["start-auto-cleanup", "--dry-run", "--json"],
    ));
    assert_eq!(chain["plan"], "start", "{chain}");
    assert_eq!(chain["before"]["health"], "missing", "{chain}");
    let tested = json(&manage(
        &env,
        &["test_cancellation", "--dry-run", "--stripe-test", "--json"],
    ));
    assert_eq!(
        tested["payments"][0]["payment_id"],
        payment.id.to_string(),
        "{tested}"
    );
    assert_eq!(
        tested["payments"][0]["stripe"]["session_status"], "open",
        "{tested}"
    );
    let status = json(&manage(&env, &["check_payment_status", "--json"]));
    assert_eq!(
        status["payments"][0]["payment_status"], "PENDING",
        "{status}"
    );
    // As the API shows money: major units and the currency apart.
    assert_eq!(status["payments"][0]["currency"], "USD", "{status}");
    let amount = status["payments"][0]["amount"].as_str().expect("amount");
    assert!(amount.parse::<f64>().is_ok(), "{amount}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_clean_expired_sessions_prints_the_summary_table() {
    let env = TestEnv::new().await;
    let payment = env.checkout().await;
    env.backdate_expiry(&payment).await;

    let output = manage(&env, &["clean-expired-sessions"]);

    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for line in [
        "expired or stale payments found",
        "recovered as completed",
        "errors",
        "Recorded as sweep run",
    ] {
        assert!(text.contains(line), "no '{line}' in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_check_payment_status_watch_ends_on_time_with_status_0() {
    let env = TestEnv::new().await;
    env.checkout().await;
    let started = Instant::now();

    let output = manage(
        &env,
        &[
            "check_payment_status",
            "--watch",
            "--duration",
            "2",
            "--interval",
            "1",
        ],
    );

    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let text = stdout(&output);
    assert!(text.matches("payments at").count() >= 2, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_check_payment_status_watch_ends_on_ctrl_c_with_status_0() {
    let env = TestEnv::new().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_manage"))
        .env("DATABASE_URL", env.db.url())
        .args(["check_payment_status", "--watch", "--interval", "1"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run manage");
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let status = child.wait().expect("wait");

    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_check_http_passes_on_2xx_and_fails_with_one_line_otherwise() {
    let env = TestEnv::new().await;

    let ok = manage(&env, &["check_http", &http_server("200 OK")]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));

    // The worker's health answer names what is down: the one line says it.
    let degraded = r#"{"database":"Timed out in bb8","redis":"ok","status":"degraded"}"#;
    let unavailable = manage(
        &env,
        &[
            "check_http",
            &http_server_answering("503 Service Unavailable", degraded),
        ],
    );
    assert_eq!(unavailable.status.code(), Some(1));
    let reason = stderr(&unavailable);
    assert_eq!(reason.lines().count(), 1, "{reason}");
    assert!(reason.contains("answered 503"), "{reason}");
    assert!(reason.contains(degraded), "{reason}");

    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/healthz", listener.local_addr().unwrap())
    };
    let refused = manage(&env, &["check-http", &closed, "--timeout", "2"]);
    assert_eq!(refused.status.code(), Some(1));
    let reason = stderr(&refused);
    assert_eq!(reason.lines().count(), 1, "{reason}");
    assert!(
        reason.starts_with(&format!("error: GET {closed} failed")),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_bad_operator_arguments_are_usage_errors() {
    let env = TestEnv::new().await;
    for args in [
        &["check_payment_status", "--interval", "0"][..],
        &["test_cancellation", "--payment-id", "not-a-uuid"],
        &["start_auto_cleanup", "--delay", "soon"],
        // Years: the dead-man switch would never see such a chain as late.
        &["start_auto_cleanup", "--delay", "99999999999"],
        &["check_http"],
        // Beyond 30 days: a deadline that far overflowed and panicked.
        &["wait_for_db", "--timeout", "18446744073709551615"],
        &["wait_for_redis", "--interval", "2592001"],
        &[
            "check_payment_status",
            "--watch",
            "--duration",
            "18446744073709551615",
        ],
    ] {
        let output = manage(&env, args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        let reason = stderr(&output);
        assert_eq!(reason.lines().count(), 1, "{args:?}: one line:\n{reason}");
        assert!(reason.starts_with("error: "), "{args:?}: {reason}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_a_session_ttl_outside_stripes_bounds_is_refused_naming_the_variable() {
    let env = TestEnv::new().await;
    let payment = env.checkout().await;
    let output = command(&env)
        .env("CHECKOUT_SESSION_TTL_SECS", "10")
        .args(["clean_expired_sessions", "--force"])
        .output()
        .expect("run manage");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("CHECKOUT_SESSION_TTL_SECS"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        env.payment(&payment).await.status,
        domain::PaymentStatus::Pending,
        "a live session was not touched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_failures_are_one_line_even_with_the_emulator_warning() {
    let env = TestEnv::new().await;
    // No STRIPE_SECRET_KEY: the emulator is used, which is worth a warning
    // to a person, not a second line in a script's stderr.
    let output = command(&env)
        .env_remove("STRIPE_SECRET_KEY")
        .args([
            "test_cancellation",
            "--payment-id",
            "00000000-0000-0000-0000-000000000000",
        ])
        .output()
        .expect("run manage");
    assert_eq!(output.status.code(), Some(1));
    let reason = stderr(&output);
    assert_eq!(reason.lines().count(), 1, "{reason}");
    assert!(reason.starts_with("error: "), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_stripe_calls_of_the_cli_are_on_the_payment_timeline() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use domain::schema::stripe_calls;
    let env = TestEnv::new().await;
    let payment = env.checkout().await;

    let output = manage(
        &env,
        &["test_cancellation", "--payment-id", &payment.id.to_string()],
    );

    assert!(output.status.success(), "{}", stderr(&output));
    let operations: Vec<String> = stripe_calls::table
        .filter(stripe_calls::payment_id.eq(payment.id))
        .select(stripe_calls::operation)
        .load(&mut *env.db.conn().await)
        .await
        .expect("stripe calls");
    assert!(
        operations.iter().any(|op| op == "expire_checkout_session"),
        "{operations:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_a_missing_argument_is_named_in_the_one_line_reason() {
    let env = TestEnv::new().await;
    let output = manage(&env, &["create_token"]);
    assert_eq!(output.status.code(), Some(2));
    let reason = stderr(&output);
    assert_eq!(reason.lines().count(), 1, "one line:\n{reason}");
    assert!(
        reason.starts_with("error: the following required arguments were not provided:")
            && reason.contains("--email <EMAIL>"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_seed_demo_is_refused_in_production() {
    let env = TestEnv::new().await;
    let output = command(&env)
        .env("APP_ENV", "production")
        .arg("seed_demo")
        .output()
        .expect("run manage");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let reason = stderr(&output);
    assert_eq!(reason.lines().count(), 1, "{reason}");
    assert!(reason.contains("APP_ENV=production"), "{reason}");
}

/// A typo in the URL is named at once, not waited out as an outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_a_database_url_that_does_not_parse_fails_at_once_naming_the_variable() {
    let env = TestEnv::new().await;
    let started = Instant::now();
    let output = command(&env)
        .env(
            "DATABASE_URL",
            "postgres://postgres:hunter2@127.0.0.1:abc/x",
        )
        .args(["wait_for_db", "--timeout", "30"])
        .output()
        .expect("run manage");
    let reason = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{reason}");
    assert_eq!(reason.lines().count(), 1, "{reason}");
    assert!(reason.contains("DATABASE_URL"), "{reason}");
    assert!(!reason.contains("hunter2"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_a_password_given_as_a_url_parameter_is_never_printed() {
    let env = TestEnv::new().await;
    let url = format!("{}?password=DBLEAKpw", env.db.url());
    let output = command(&env)
        .env("DATABASE_URL", &url)
        .arg("wait_for_db")
        .output()
        .expect("run manage");
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = format!("{}{}", stdout(&output), stderr(&output));
    assert!(printed.contains("password=***"), "{printed}");
    assert!(!printed.contains("DBLEAKpw"), "{printed}");
}
