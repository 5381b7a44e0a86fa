//! `manage seed_demo`: demo logins, products with stock and a coupon.
//!
//! Idempotent: users are matched by e-mail, products by SKU and coupons by
//! code. A second run writes nothing, and stock counters of existing
//! products are never reset (live reservations stay consistent). A demo
//! user that exists is left as it is: `scripts/run` seeds on every start,
//! and must not give back a published password an operator changed.
//! Refused with `APP_ENV=production`, where published logins have no place.

use crate::password::hash_password;
use anyhow::Context;
use clap::Args;
use comfy_table::{Table, presets};
use diesel::prelude::*;
use diesel::query_dsl::methods::FilterDsl;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::models::user::User;
use domain::schema::{coupons, inventory_stock, products};
use domain::settings::AppEnv;
use domain::values::email::Email;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DemoLogin {
    pub email: &'static str,
    pub password: &'static str,
    pub is_staff: bool,
}

pub const DEMO_LOGINS: [DemoLogin; 2] = [
    DemoLogin {
        email: "demo@example.com",
        password: "demo12345",
        is_staff: false,
    },
    DemoLogin {
        email: "admin@example.com",
        password: "admin12345",
        is_staff: true,
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DemoProduct {
    pub sku: &'static str,
    pub name: &'static str,
    pub price_minor: i64,
    pub currency: &'static str,
    /// Stock given to a product when it is first created.
    pub initial_units: i32,
}

pub const DEMO_PRODUCTS: [DemoProduct; 4] = [
    DemoProduct {
        sku: "DEMO-TSHIRT",
        name: "Demo T-shirt",
        price_minor: 1999,
        currency: "USD",
        initial_units: 100,
    },
    DemoProduct {
        sku: "DEMO-MUG",
        name: "Demo mug",
        price_minor: 1250,
        currency: "USD",
        initial_units: 50,
    },
    DemoProduct {
        sku: "DEMO-HOODIE",
        name: "Demo hoodie",
        price_minor: 4500,
        currency: "USD",
        initial_units: 25,
    },
    DemoProduct {
        sku: "DEMO-STICKERS",
        name: "Demo sticker pack",
        price_minor: 499,
        currency: "USD",
        initial_units: 500,
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DemoCoupon {
    pub code: &'static str,
    pub percent_off: i16,
}

pub const DEMO_COUPONS: [DemoCoupon; 1] = [DemoCoupon {
    code: "WELCOME10",
    percent_off: 10,
}];

#[derive(Debug, Clone, Args)]
pub struct Opts {}

/// What the seed holds and how many rows this run wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeedReport {
    pub logins: Vec<DemoLogin>,
    pub products: Vec<DemoProduct>,
    pub coupons: Vec<DemoCoupon>,
    pub rows_written: usize,
}

pub async fn run(conn: &mut AsyncPgConnection, _opts: &Opts) -> anyhow::Result<SeedReport> {
    // Hash outside the transaction: Argon2 is deliberately slow.
    let mut user_changes = Vec::new();
    for login in DEMO_LOGINS {
        if let Some(change) = user_change(conn, &login).await? {
            user_changes.push(change);
        }
    }
    let rows_written = conn
        .transaction::<_, anyhow::Error, _>(async |conn| {
            let mut written = 0;
            for (email, password_hash, is_staff) in &user_changes {
                User::upsert(conn, email, password_hash, *is_staff).await?;
                written += 1;
            }
            for product in &DEMO_PRODUCTS {
                written += upsert_product(conn, product).await?;
            }
            for coupon in &DEMO_COUPONS {
                written += upsert_coupon(conn, coupon).await?;
            }
            Ok(written)
        })
        .await
        .context("cannot seed demo data")?;
    tracing::info!(target: "payments", rows_written, "demo data seeded");
    Ok(SeedReport {
        logins: DEMO_LOGINS.to_vec(),
        products: DEMO_PRODUCTS.to_vec(),
        coupons: DEMO_COUPONS.to_vec(),
        rows_written,
    })
}

/// Demo logins publish their passwords: never in production.
pub fn allowed_in(app_env: AppEnv) -> anyhow::Result<()> {
    anyhow::ensure!(
        app_env != AppEnv::Production,
        "seed_demo creates logins whose passwords are published (docs/demo.md); refused with APP_ENV=production"
    );
    Ok(())
}

/// The user row to create, or `None` when a user has that e-mail already
/// (whatever its password and role now: an operator may have changed them).
async fn user_change(
    conn: &mut AsyncPgConnection,
    login: &DemoLogin,
) -> anyhow::Result<Option<(Email, String, bool)>> {
    let email = Email::parse(login.email)?;
    let existing = User::find_by_email(conn, &email)
        .await
        .context("cannot look up demo users")?;
    if existing.is_some() {
        return Ok(None);
    }
    Ok(Some((
        email,
        hash_password(login.password)?,
        login.is_staff,
    )))
}

/// Inserts the product, or updates it only where it differs from the seed;
/// gives it stock only if it has none. Returns the rows written.
async fn upsert_product(conn: &mut AsyncPgConnection, product: &DemoProduct) -> QueryResult<usize> {
    let insert = diesel::insert_into(products::table)
        .values((
            products::sku.eq(product.sku),
            products::name.eq(product.name),
            products::price_minor.eq(product.price_minor),
            products::currency.eq(product.currency),
            products::is_active.eq(true),
        ))
        .on_conflict(products::sku)
        .do_update()
        .set((
            products::name.eq(excluded(products::name)),
            products::price_minor.eq(excluded(products::price_minor)),
            products::currency.eq(excluded(products::currency)),
            products::is_active.eq(true),
        ));
    // ON CONFLICT DO UPDATE … WHERE: rewrite the row only if it differs.
    let product_rows = FilterDsl::filter(
        insert,
        products::name
            .ne(excluded(products::name))
            .or(products::price_minor.ne(excluded(products::price_minor)))
            .or(products::currency.ne(excluded(products::currency)))
            .or(products::is_active.eq(false)),
    )
    .execute(conn)
    .await?;
    let product_id: domain::ProductId =
        QueryDsl::filter(products::table, products::sku.eq(product.sku))
            .select(products::id)
            .first(conn)
            .await?;
    let stock_rows = diesel::insert_into(inventory_stock::table)
        .values((
            inventory_stock::product_id.eq(product_id),
            inventory_stock::units.eq(product.initial_units),
        ))
        .on_conflict(inventory_stock::product_id)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(product_rows + stock_rows)
}

/// Inserts the coupon, or re-activates it and restores its discount; its
/// redemption counter is left alone. Returns the rows written.
async fn upsert_coupon(conn: &mut AsyncPgConnection, coupon: &DemoCoupon) -> QueryResult<usize> {
    let insert = diesel::insert_into(coupons::table)
        .values((
            coupons::code.eq(coupon.code),
            coupons::percent_off.eq(coupon.percent_off),
        ))
        .on_conflict(coupons::code)
        .do_update()
        .set((
            coupons::percent_off.eq(excluded(coupons::percent_off)),
            coupons::is_active.eq(true),
        ));
    FilterDsl::filter(
        insert,
        coupons::percent_off
            .ne(excluded(coupons::percent_off))
            .or(coupons::is_active.eq(false)),
    )
    .execute(conn)
    .await
}

pub fn print(report: &SeedReport, json: bool) -> anyhow::Result<()> {
    if json {
        return super::print_json(report);
    }
    let mut logins = Table::new();
    logins.load_style(presets::UTF8_FULL);
    logins.set_header(["login", "password", "role"]);
    for login in &report.logins {
        let role = if login.is_staff { "staff" } else { "customer" };
        logins.add_row([login.email, login.password, role]);
    }
    println!("{logins}");
    let skus: Vec<_> = report.products.iter().map(|p| p.sku).collect();
    let codes: Vec<_> = report.coupons.iter().map(|c| c.code).collect();
    println!("products: {}", skus.join(", "));
    println!("coupons: {}", codes.join(", "));
    if report.rows_written == 0 {
        println!("demo data already up to date");
    } else {
        println!("{} rows written", report.rows_written);
    }
    Ok(())
}
