//! The command-line shape: clap's own consistency checks, names, aliases
//! and the documented exit statuses.

use clap::{CommandFactory, Parser};
use manage::Cli;
use manage::cli::Command;
use std::process::Command as Process;

#[test]
fn verify_cli() {
    Cli::command().debug_assert();
}

#[test]
fn underscored_and_dashed_names_both_parse() {
    for (underscored, dashed) in [
        ("wait_for_db", "wait-for-db"),
        ("wait_for_redis", "wait-for-redis"),
        ("create_token", "create-token"),
        ("seed_demo", "seed-demo"),
    ] {
        let a = Cli::try_parse_from(["manage", underscored, "--email", "a@b.co"])
            .or_else(|_| Cli::try_parse_from(["manage", underscored]));
        let b = Cli::try_parse_from(["manage", dashed, "--email", "a@b.co"])
            .or_else(|_| Cli::try_parse_from(["manage", dashed]));
        let (a, b) = (a.expect(underscored), b.expect(dashed));
        assert_eq!(
            std::mem::discriminant(&a.command),
            std::mem::discriminant(&b.command),
            "{underscored} vs {dashed}"
        );
    }
    let parsed = Cli::try_parse_from([
        "manage",
        "create-user",
        "--email",
        "Ana@Example.com",
        "--password",
        "long enough",
        "--staff",
    ])
    .unwrap();
    let Command::CreateUser(opts) = parsed.command else {
        panic!("create-user parsed as {:?}", parsed.command);
    };
    assert_eq!(opts.email.as_str(), "ana@example.com");
    assert!(opts.staff);
    assert!(
        !format!("{opts:?}").contains("long enough"),
        "password in Debug"
    );
}

#[test]
fn global_options_are_accepted_after_the_command() {
    let cli = Cli::try_parse_from([
        "manage",
        "migrate",
        "--json",
        "--database-url",
        "postgres://x@h/db",
    ])
    .unwrap();
    assert!(cli.global.json);
    assert_eq!(cli.global.database_url, "postgres://x@h/db");
}

#[test]
fn wait_options_refuse_zero_seconds() {
    assert!(Cli::try_parse_from(["manage", "wait_for_db", "--interval", "0"]).is_err());
    assert!(Cli::try_parse_from(["manage", "wait_for_redis", "--timeout", "0"]).is_err());
}

#[test]
fn help_documents_the_exit_statuses() {
    let help = Cli::command().render_long_help().to_string();
    for line in ["0  success", "1  failure", "2  usage error"] {
        assert!(help.contains(line), "help lacks '{line}':\n{help}");
    }
}

#[test]
fn usage_errors_exit_with_status_2() {
    let output = Process::new(env!("CARGO_BIN_EXE_manage"))
        .arg("no_such_command")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = Process::new(env!("CARGO_BIN_EXE_manage"))
        .args(["create_token", "--email", "not-an-email"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}
