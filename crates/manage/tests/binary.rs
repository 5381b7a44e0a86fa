//! The built `manage` binary, as scripts and containers run it.

use domain::testing::{TestDatabase, flat_json_lines};
use std::process::{Command, Output};

fn manage(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_manage"))
        .env("DATABASE_URL", database_url)
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .expect("run manage")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn binary_migrates_then_seeds_twice_with_the_same_result() {
    let db = TestDatabase::new().await;

    let migrate = manage(db.url(), &["migrate"]);
    assert!(migrate.status.success(), "{}", stderr(&migrate));
    assert_eq!(stdout(&migrate).trim(), "no pending migrations");

    let first = manage(db.url(), &["seed_demo", "--json"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let second = manage(db.url(), &["seed-demo", "--json"]);
    assert!(second.status.success(), "{}", stderr(&second));

    let first: serde_json::Value = serde_json::from_str(&stdout(&first)).unwrap();
    let second: serde_json::Value = serde_json::from_str(&stdout(&second)).unwrap();
    assert_eq!(first["logins"], second["logins"]);
    assert_eq!(first["logins"][0]["email"], "demo@example.com");
    assert_eq!(first["logins"][1]["email"], "admin@example.com");
    assert_eq!(second["rows_written"], 0);
}

#[tokio::test]
async fn binary_creates_a_user_and_prints_a_token_key_only() {
    let db = TestDatabase::new().await;

    let user = Command::new(env!("CARGO_BIN_EXE_manage"))
        .env("DATABASE_URL", db.url())
        .env("MANAGE_USER_PASSWORD", "from-the-env")
        .args(["create_user", "--email", "ops@example.com", "--staff"])
        .output()
        .unwrap();
    assert!(user.status.success(), "{}", stderr(&user));
    assert!(!stdout(&user).contains("from-the-env"));

    let token = manage(db.url(), &["create_token", "--email", "ops@example.com"]);
    assert!(token.status.success(), "{}", stderr(&token));
    let key = stdout(&token);
    assert_eq!(key.trim().len(), 40, "{key:?}");
    assert_eq!(key.lines().count(), 1);

    let json = manage(
        db.url(),
        &["--json", "create-token", "--email", "ops@example.com"],
    );
    let parsed: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(parsed["key"].as_str().map(str::len), Some(40));
}

#[tokio::test]
async fn binary_fails_with_status_1_and_one_line_for_an_unknown_email() {
    let db = TestDatabase::new().await;

    let output = manage(db.url(), &["create_token", "--email", "ghost@example.com"]);

    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert_eq!(
        stderr(&output),
        "error: no user with e-mail ghost@example.com\n"
    );
}

#[test]
fn binary_wait_for_db_gives_up_with_one_line_without_the_password() {
    let output = manage(
        "postgres://postgres:topsecret@127.0.0.1:1/payments",
        &["wait_for_db", "--timeout", "1", "--interval", "1"],
    );

    assert_eq!(output.status.code(), Some(1));
    let reason = stderr(&output);
    assert_eq!(reason.lines().count(), 1, "{reason}");
    assert!(
        reason.starts_with(
            "error: PostgreSQL at postgres://postgres:***@127.0.0.1:1/payments not ready within 1s"
        ),
        "{reason}"
    );
}

#[tokio::test]
async fn binary_logs_flat_json_lines_with_log_format_json() {
    let db = TestDatabase::new().await;

    let output = Command::new(env!("CARGO_BIN_EXE_manage"))
        .env("DATABASE_URL", db.url())
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .args(["migrate"])
        .output()
        .expect("run manage");

    assert!(output.status.success(), "{}", stderr(&output));
    let lines = flat_json_lines("manage's logs", &stderr(&output));
    assert!(
        lines
            .iter()
            .any(|line| line["message"] == "applying pending migrations"
                && line["target"] == "payments"),
        "{lines:?}"
    );
}
