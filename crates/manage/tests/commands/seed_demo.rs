use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::models::user::User;
use domain::schema::{coupons, inventory_stock, products, users};
use domain::testing::TestDatabase;
use domain::values::email::Email;
use manage::commands::seed_demo::{self, DEMO_LOGINS, DEMO_PRODUCTS, Opts};
use manage::password::password_matches;

type UserRow = (i64, String, String, bool, bool);
type ProductRow = (i64, String, String, i64, bool);
type StockRow = (i64, i32, i32, time::OffsetDateTime);
type CouponRow = (i64, String, i16, i32, bool);

/// Every seeded row, ordered, to compare two runs column by column.
#[derive(Debug, PartialEq)]
struct Snapshot {
    users: Vec<UserRow>,
    products: Vec<ProductRow>,
    stock: Vec<StockRow>,
    coupons: Vec<CouponRow>,
}

async fn snapshot(conn: &mut AsyncPgConnection) -> Snapshot {
    Snapshot {
        users: users::table
            .order(users::id)
            .select((
                users::id,
                users::email,
                users::password_hash,
                users::is_staff,
                users::is_active,
            ))
            .load(conn)
            .await
            .unwrap(),
        products: products::table
            .order(products::id)
            .select((
                products::id,
                products::sku,
                products::name,
                products::price_minor,
                products::is_active,
            ))
            .load(conn)
            .await
            .unwrap(),
        stock: inventory_stock::table
            .order(inventory_stock::product_id)
            .select((
                inventory_stock::product_id,
                inventory_stock::units,
                inventory_stock::units_sold,
                inventory_stock::updated_at,
            ))
            .load(conn)
            .await
            .unwrap(),
        coupons: coupons::table
            .order(coupons::id)
            .select((
                coupons::id,
                coupons::code,
                coupons::percent_off,
                coupons::times_used,
                coupons::is_active,
            ))
            .load(conn)
            .await
            .unwrap(),
    }
}

#[tokio::test]
async fn seed_demo_creates_logins_products_stock_and_coupon() {
    let db = TestDatabase::new().await;
    let mut conn = db.conn().await;

    let report = seed_demo::run(&mut conn, &Opts {}).await.unwrap();

    assert!(report.rows_written > 0);
    for login in DEMO_LOGINS {
        let user = User::find_by_email(&mut conn, &Email::parse(login.email).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.is_staff, login.is_staff, "{}", login.email);
        assert!(password_matches(login.password, &user.password_hash));
    }
    let state = snapshot(&mut conn).await;
    assert_eq!(state.products.len(), DEMO_PRODUCTS.len());
    assert_eq!(state.stock.len(), DEMO_PRODUCTS.len());
    let tshirt = state
        .products
        .iter()
        .find(|p| p.1 == "DEMO-TSHIRT")
        .unwrap();
    assert_eq!(tshirt.3, 1999);
    let tshirt_stock = state.stock.iter().find(|s| s.0 == tshirt.0).unwrap();
    assert_eq!((tshirt_stock.1, tshirt_stock.2), (100, 0));
    assert_eq!(state.coupons.len(), 1);
    assert_eq!(
        (state.coupons[0].1.as_str(), state.coupons[0].2),
        ("WELCOME10", 10)
    );
}

#[tokio::test]
async fn seed_demo_twice_changes_nothing() {
    let db = TestDatabase::new().await;
    let mut conn = db.conn().await;
    seed_demo::run(&mut conn, &Opts {}).await.unwrap();
    let after_first = snapshot(&mut conn).await;

    let second = seed_demo::run(&mut conn, &Opts {}).await.unwrap();

    assert_eq!(second.rows_written, 0);
    assert_eq!(snapshot(&mut conn).await, after_first);
}

#[tokio::test]
async fn seed_demo_keeps_stock_counters_of_existing_products() {
    let db = TestDatabase::new().await;
    let mut conn = db.conn().await;
    seed_demo::run(&mut conn, &Opts {}).await.unwrap();
    diesel::update(inventory_stock::table)
        .set((
            inventory_stock::units.eq(40),
            inventory_stock::units_sold.eq(7),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::update(coupons::table)
        .set(coupons::times_used.eq(3))
        .execute(&mut conn)
        .await
        .unwrap();

    seed_demo::run(&mut conn, &Opts {}).await.unwrap();

    let state = snapshot(&mut conn).await;
    assert!(
        state.stock.iter().all(|s| (s.1, s.2) == (40, 7)),
        "{:?}",
        state.stock
    );
    assert_eq!(state.coupons[0].3, 3);
}

/// `scripts/run` seeds on every start: a demo user an operator changed
/// keeps its password and role; products are put back as the seed has them.
#[tokio::test]
async fn seed_demo_restores_demo_products_and_leaves_existing_users_alone() {
    let db = TestDatabase::new().await;
    let mut conn = db.conn().await;
    seed_demo::run(&mut conn, &Opts {}).await.unwrap();
    let seeded = snapshot(&mut conn).await;
    diesel::update(products::table.filter(products::sku.eq("DEMO-MUG")))
        .set((products::price_minor.eq(1), products::is_active.eq(false)))
        .execute(&mut conn)
        .await
        .unwrap();
    let changed_hash = manage::password::hash_password("an operator's own").unwrap();
    diesel::update(users::table.filter(users::email.eq("admin@example.com")))
        .set((
            users::is_staff.eq(false),
            users::password_hash.eq(&changed_hash),
        ))
        .execute(&mut conn)
        .await
        .unwrap();

    let report = seed_demo::run(&mut conn, &Opts {}).await.unwrap();

    assert_eq!(report.rows_written, 1, "the product only");
    let after = snapshot(&mut conn).await;
    assert_eq!(after.products, seeded.products);
    let admin = after
        .users
        .iter()
        .find(|u| u.1 == "admin@example.com")
        .expect("admin");
    assert_eq!(admin.2, changed_hash, "password not given back");
    assert!(!admin.3, "role as the operator left it");
    assert_eq!(after.users.len(), seeded.users.len());
}
