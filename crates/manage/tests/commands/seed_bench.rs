//! `manage seed_bench` writes the Django peer's benchmark data set, with
//! counters that satisfy the invariants and the sessions known to the
//! emulator; `manage check_invariants` reports it clean and sees a break.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::audit::{Actor, AuditSource};
use domain::gateway::{SessionStatus, StripeGateway};
use domain::models::user::User;
use domain::schema::{inventory_stock, order_items, orders, payments};
use domain::services::cancel_payment;
use domain::testing::{TestDatabase, check_invariants};
use domain::values::email::Email;
use domain::values::ids::PaymentId;
use manage::commands::check_invariants as check_cmd;
use manage::commands::seed_bench::{self, Opts};
use manage::password::password_matches;
use secrecy::SecretString;
use std::collections::BTreeMap;
use stripe_client::{StripeClient, StripeConfig};
use stripe_emulator::{Emulator, EmulatorConfig};
use time::OffsetDateTime;
use uuid::Uuid;

fn opts(emulator_url: Option<String>) -> Opts {
    Opts {
        payments: 300,
        users: 5,
        expired: 30,
        products: 20,
        coupons: 4,
        password: "bench-password".into(),
        email_pattern: "bench{i}@bench.local".into(),
        staff_email: "staff@bench.local".into(),
        seed: 7,
        session_ttl_secs: 1800,
        emulator_url,
    }
}

async fn payment_rows(
    conn: &mut AsyncPgConnection,
) -> Vec<(Uuid, String, Option<String>, OffsetDateTime, Option<i64>)> {
    payments::table
        .inner_join(orders::table)
        .select((
            payments::id,
            payments::status,
            payments::stripe_session_id,
            payments::expires_at.assume_not_null(),
            orders::coupon_id,
        ))
        .load(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn seed_bench_writes_the_peers_data_set_with_exact_counters_and_sessions_in_stripe() {
    let db = TestDatabase::new().await;
    let emulator = Emulator::start(EmulatorConfig::for_tests()).await.unwrap();
    let mut conn = db.conn().await;

    let report = seed_bench::run(&mut conn, &opts(Some(emulator.base_url().into())))
        .await
        .unwrap();

    assert_eq!(
        (report.payments, report.expired, report.users),
        (300, 30, 5)
    );
    assert_eq!(report.sessions_loaded, Some(300));
    for (email, staff) in [
        ("bench0@bench.local", false),
        ("bench4@bench.local", false),
        ("staff@bench.local", true),
    ] {
        let user = User::find_by_email(&mut conn, &Email::parse(email).unwrap())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{email} seeded"));
        assert_eq!(user.is_staff, staff, "{email}");
        assert!(
            password_matches("bench-password", &user.password_hash),
            "{email}"
        );
    }

    let rows = payment_rows(&mut conn).await;
    assert_eq!(rows.len(), 300);
    assert!(rows.iter().all(|r| r.1 == "PENDING"));
    let now = OffsetDateTime::now_utc();
    assert_eq!(rows.iter().filter(|r| r.3 < now).count(), 30);
    let lines: Vec<(Uuid, i64)> = order_items::table
        .group_by(order_items::order_id)
        .select((order_items::order_id, diesel::dsl::count_star()))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(lines.len(), 300);
    assert!(
        lines.iter().all(|(_, n)| (1..=3).contains(n)),
        "1–3 items per order"
    );
    assert_eq!(
        report.order_items,
        lines.iter().map(|l| l.1 as usize).sum::<usize>()
    );
    let free: Vec<i32> = inventory_stock::table
        .select(inventory_stock::units - inventory_stock::units_sold)
        .load(&mut conn)
        .await
        .unwrap();
    assert!(free.iter().all(|&f| f == 1000), "stock = reserved + 1000");
    check_invariants(&mut conn).await.assert_ok();

    // The sessions are Stripe's: open ones open, the past-expiry ones expired.
    let mut config = StripeConfig::new(emulator.base_url(), SecretString::from("sk_test_bench"));
    config.base_backoff = std::time::Duration::from_millis(10);
    let gateway = StripeClient::new(&config).unwrap();
    let expired = rows.iter().find(|r| r.3 < now).unwrap();
    let open = rows
        .iter()
        .find(|r| r.3 > now && r.4.is_some())
        .expect("a pending order with a coupon");
    let session = gateway
        .retrieve_checkout_session(expired.2.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(session.status, SessionStatus::Expired);
    let session = gateway
        .retrieve_checkout_session(open.2.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(session.status, SessionStatus::Open);

    // Cancelling a seeded payment (stock and coupon released) keeps them.
    let actor = Actor::new(AuditSource::User, "seed-bench-test");
    let outcome = cancel_payment(&mut conn, &gateway, PaymentId(open.0), &actor)
        .await
        .unwrap();
    assert!(outcome.released.coupon_released);
    let checked = check_cmd::run(&mut conn, &check_cmd::Opts {})
        .await
        .unwrap();
    assert!(checked.ok, "{:?}", checked.violations);
    assert_eq!(checked.units_sold, checked.units_reserved);
    assert_eq!(
        checked.payments,
        BTreeMap::from([("CANCELLED".to_owned(), 1), ("PENDING".to_owned(), 299)])
    );
    assert_eq!(checked.coupon_times_used, report.coupon_redemptions - 1);
}

#[tokio::test]
async fn seed_bench_refuses_a_database_that_already_holds_the_data_set() {
    let db = TestDatabase::new().await;
    let mut conn = db.conn().await;
    seed_bench::run(&mut conn, &opts(None)).await.unwrap();

    let again = seed_bench::run(&mut conn, &opts(None)).await.unwrap_err();

    assert!(again.to_string().contains("already present"), "{again}");
    assert_eq!(payment_rows(&mut conn).await.len(), 300);
}

#[tokio::test]
async fn check_invariants_fails_when_stock_no_longer_matches_the_reservations() {
    let db = TestDatabase::new().await;
    let mut conn = db.conn().await;
    seed_bench::run(&mut conn, &opts(None)).await.unwrap();
    let product: i64 = inventory_stock::table
        .select(inventory_stock::product_id)
        .filter(inventory_stock::units_sold.gt(0))
        .first(&mut conn)
        .await
        .unwrap();
    diesel::update(inventory_stock::table.find(product))
        .set(inventory_stock::units_sold.eq(inventory_stock::units_sold - 1))
        .execute(&mut conn)
        .await
        .unwrap();

    let report = check_cmd::run(&mut conn, &check_cmd::Opts {})
        .await
        .unwrap();

    assert!(!report.ok);
    assert_eq!(report.units_sold + 1, report.units_reserved);
    assert!(
        report.violations[0].contains(&format!("product {product}")),
        "{:?}",
        report.violations
    );
    let printed = check_cmd::print(&report, true).unwrap_err();
    assert_eq!(printed.to_string(), "1 invariant violation(s)");
}
