//! The operator commands' names, aliases and help.

use clap::{CommandFactory, Parser};
use manage::Cli;
use manage::cli::Command;

#[test]
fn operator_commands_accept_underscored_and_dashed_names() {
    for (underscored, dashed) in [
        ("clean_expired_sessions", "clean-expired-sessions"),
        ("start_auto_cleanup", "start-auto-cleanup"),
        ("test_cancellation", "test-cancellation"),
        ("check_payment_status", "check-payment-status"),
    ] {
        let a = Cli::try_parse_from(["manage", underscored]).expect(underscored);
        let b = Cli::try_parse_from(["manage", dashed]).expect(dashed);
        assert_eq!(
            std::mem::discriminant(&a.command),
            std::mem::discriminant(&b.command),
            "{underscored} vs {dashed}"
        );
    }
    let http = Cli::try_parse_from(["manage", "check-http", "http://127.0.0.1:1/"]).unwrap();
    assert!(matches!(http.command, Command::CheckHttp(_)));
}

#[test]
fn seed_flags_parse_as_the_seed_wrote_them() {
    let cli = Cli::try_parse_from([
        "manage",
        "check_payment_status",
        "--duration",
        "120",
        "--interval",
        "10",
    ])
    .unwrap();
    let Command::CheckPaymentStatus(opts) = cli.command else {
        panic!("parsed as {:?}", cli.command);
    };
    assert!(opts.watching(), "--duration implies watching");
    let cli = Cli::try_parse_from([
        "manage",
        "test_cancellation",
        "--user-email",
        "user@example.com",
        "--dry-run",
        "--stripe-test",
    ])
    .unwrap();
    let Command::TestCancellation(opts) = cli.command else {
        panic!("parsed as {:?}", cli.command);
    };
    assert!(opts.dry_run && opts.stripe_test);
    let cli = Cli::try_parse_from(["manage", "start_auto_cleanup", "--delay", "300"]).unwrap();
    let Command::StartAutoCleanup(opts) = cli.command else {
        panic!("parsed as {:?}", cli.command);
    };
    assert_eq!(opts.delay, Some(300));
}

#[test]
fn help_lists_every_command_and_the_sweep_documents_its_exit_status() {
    let help = Cli::command().render_long_help().to_string();
    for name in [
        "migrate",
        "wait_for_db",
        "wait_for_redis",
        "create_user",
        "create_token",
        "seed_demo",
        "clean_expired_sessions",
        "start_auto_cleanup",
        "test_cancellation",
        "check_payment_status",
        "check_http",
    ] {
        assert!(help.contains(name), "help lacks {name}:\n{help}");
    }
    let mut cli = Cli::command();
    let sweep = cli
        .find_subcommand_mut("clean_expired_sessions")
        .expect("subcommand")
        .render_long_help()
        .to_string();
    assert!(sweep.contains("counted under"), "{sweep}");
}
