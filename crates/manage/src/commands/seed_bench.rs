//! `manage seed_bench`: the benchmark data set of the Django peer's
//! `seed_bench` (`../shared/peers/django/payments/management/commands/`),
//! row for row in shape: users `bench{i}@bench.local` and
//! `staff@bench.local` sharing one Argon2id hash of `bench-password`,
//! products with stock, coupons, and N PENDING orders + payments with 1–3
//! items each, E of them with a session already past `expires_at`.
//!
//! Bulk: every table is written with one `INSERT … SELECT FROM unnest(…)`
//! per chunk of rows (arrays as bind parameters, so no 65 535-parameter
//! limit and one round trip per chunk), in one transaction, then ANALYZE.
//! Stock and coupon counters are set to exactly what the orders reserve,
//! so the invariants of SPEC §4 hold from the start.
//!
//! With `--emulator-url` (or `STRIPE_API_BASE`), the Checkout Sessions are
//! also loaded into the Stripe emulator (`POST /_emulator/sessions/bulk`),
//! open or already expired, so that cancels and sweeps make real HTTP
//! calls for sessions Stripe knows.

use crate::password::hash_password;
use anyhow::{Context, bail, ensure};
use clap::Args;
use diesel::QueryableByName;
use diesel::sql_types::{
    Array, BigInt, Integer, Nullable, SmallInt, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::values::money::{Currency, Money};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, index};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use uuid::Uuid;

/// Rows per INSERT statement.
const CHUNK: usize = 5_000;
/// Sessions per bulk-load request (the emulator's JSON limit is 2 MB).
const EMULATOR_CHUNK: usize = 5_000;
const CURRENCY: Currency = Currency::USD;

#[derive(Debug, Clone, Args)]
pub struct Opts {
    /// PENDING orders + payments to create.
    #[arg(long, default_value_t = 5000)]
    pub payments: usize,
    /// Customers owning them (round robin); one staff user is added.
    #[arg(long, default_value_t = 50)]
    pub users: usize,
    /// How many of the payments have a session already past `expires_at`.
    #[arg(long, default_value_t = 0)]
    pub expired: usize,
    #[arg(long, default_value_t = 100)]
    pub products: usize,
    #[arg(long, default_value_t = 10)]
    pub coupons: usize,
    /// Password of every seeded user (read from SEED_BENCH_PASSWORD if set).
    #[arg(
        long,
        env = "SEED_BENCH_PASSWORD",
        default_value = "bench-password",
        hide_env_values = true
    )]
    pub password: String,
    /// `{i}` is replaced by the user's number.
    #[arg(long, default_value = "bench{i}@bench.local")]
    pub email_pattern: String,
    #[arg(long, default_value = "staff@bench.local")]
    pub staff_email: String,
    /// Random seed: the same seed gives the same quantities and coupons.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Lifetime of the open sessions from now (Stripe: 1800..86400).
    #[arg(long, env = "CHECKOUT_SESSION_TTL_SECS", value_name = "CHECKOUT_SESSION_TTL_SECS",
          default_value_t = 1800, value_parser = crate::cli::session_ttl_secs)]
    pub session_ttl_secs: u64,
    /// Stripe emulator whose sessions to load (its base URL); without it
    /// no session is loaded anywhere.
    #[arg(long, env = "STRIPE_API_BASE")]
    pub emulator_url: Option<String>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeedBenchReport {
    pub users: usize,
    pub staff_email: String,
    pub products: usize,
    pub coupons: usize,
    pub payments: usize,
    pub expired: usize,
    pub order_items: usize,
    pub units_reserved: i64,
    pub coupon_redemptions: i64,
    /// Sessions loaded into the emulator (`None`: no emulator given).
    pub sessions_loaded: Option<usize>,
    pub elapsed_ms: u64,
}

struct Product {
    id: i64,
    price_minor: i64,
}

/// The generated orders, column by column (as `unnest` takes them).
#[derive(Default)]
struct Rows {
    order_id: Vec<Uuid>,
    user_id: Vec<i64>,
    coupon_id: Vec<Option<i64>>,
    subtotal: Vec<i64>,
    discount: Vec<i64>,
    total: Vec<i64>,
    payment_id: Vec<Uuid>,
    session_id: Vec<String>,
    checkout_url: Vec<String>,
    expires_at: Vec<OffsetDateTime>,
    expired: Vec<bool>,
    item_order: Vec<Uuid>,
    item_product: Vec<i64>,
    item_quantity: Vec<i32>,
    item_price: Vec<i64>,
    reserved: BTreeMap<i64, i64>,
    coupon_uses: BTreeMap<i64, i64>,
}

fn check(opts: &Opts) -> anyhow::Result<()> {
    ensure!(
        opts.users >= 1 && opts.expired <= opts.payments,
        "need --users >= 1 and 0 <= --expired <= --payments"
    );
    ensure!(opts.products >= 1, "need --products >= 1");
    ensure!(
        opts.email_pattern.contains("{i}"),
        "--email-pattern must contain {{i}}"
    );
    Ok(())
}

fn generate(
    opts: &Opts,
    customers: &[i64],
    products: &[Product],
    coupons: &[(i64, i16)],
    checkout_base: &str,
) -> anyhow::Result<Rows> {
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let expired: HashSet<usize> = index::sample(&mut rng, opts.payments, opts.expired)
        .into_iter()
        .collect();
    let now = OffsetDateTime::now_utc();
    let ttl = time::Duration::seconds(i64::try_from(opts.session_ttl_secs)?);
    let mut rows = Rows::default();
    for i in 0..opts.payments {
        let order_id = Uuid::now_v7();
        let lines = rng.random_range(1..=products.len().min(3));
        let mut subtotal = Money::zero(CURRENCY);
        for product in products.choose_multiple(&mut rng, lines) {
            let quantity = rng.random_range(1..=3);
            rows.item_order.push(order_id);
            rows.item_product.push(product.id);
            rows.item_quantity.push(quantity);
            rows.item_price.push(product.price_minor);
            *rows.reserved.entry(product.id).or_default() += i64::from(quantity);
            subtotal = subtotal.checked_add(
                Money::new(product.price_minor, CURRENCY).checked_mul(i64::from(quantity))?,
            )?;
        }
        let coupon = if !coupons.is_empty() && rng.random_bool(0.2) {
            coupons.choose(&mut rng).copied()
        } else {
            None
        };
        // The same rounding as a real checkout (half up to the minor unit).
        let discount = match coupon {
            Some((id, percent_off)) => {
                *rows.coupon_uses.entry(id).or_default() += 1;
                subtotal.percent(i64::from(percent_off))?
            }
            None => Money::zero(CURRENCY),
        };
        let is_expired = expired.contains(&i);
        let expires_at = if is_expired {
            now - time::Duration::minutes(rng.random_range(1..=120))
        } else {
            now + ttl
        };
        let session_id = format!("cs_test_bench_{}", Uuid::new_v4().simple());
        rows.order_id.push(order_id);
        rows.user_id.push(customers[i % customers.len()]);
        rows.coupon_id.push(coupon.map(|(id, _)| id));
        rows.subtotal.push(subtotal.minor);
        rows.discount.push(discount.minor);
        rows.total.push(subtotal.checked_sub(discount)?.minor);
        rows.payment_id.push(Uuid::now_v7());
        rows.checkout_url
            .push(format!("{checkout_base}/pay/{session_id}"));
        rows.session_id.push(session_id);
        rows.expires_at.push(expires_at);
        rows.expired.push(is_expired);
    }
    Ok(rows)
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

async fn insert_users(
    conn: &mut AsyncPgConnection,
    opts: &Opts,
    password_hash: &str,
) -> anyhow::Result<Vec<i64>> {
    let mut emails: Vec<String> = (0..opts.users)
        .map(|i| opts.email_pattern.replace("{i}", &i.to_string()))
        .collect();
    emails.push(opts.staff_email.clone());
    let staff: Vec<bool> = (0..emails.len()).map(|i| i == opts.users).collect();
    let ids: Vec<IdRow> = diesel::sql_query(
        "INSERT INTO users (email, password_hash, is_staff) \
         SELECT e, $2, s FROM unnest($1::text[], $3::bool[]) WITH ORDINALITY AS x(e, s, n) \
         ORDER BY n RETURNING id",
    )
    .bind::<Array<Text>, _>(&emails)
    .bind::<Text, _>(password_hash)
    .bind::<Array<diesel::sql_types::Bool>, _>(&staff)
    .load(conn)
    .await
    .context("inserting users")?;
    // RETURNING follows the insertion order; drop the staff user.
    let mut ids: Vec<i64> = ids.into_iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.truncate(opts.users);
    Ok(ids)
}

#[derive(QueryableByName)]
struct ProductRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    price_minor: i64,
}

async fn insert_products(
    conn: &mut AsyncPgConnection,
    opts: &Opts,
    rng: &mut StdRng,
) -> anyhow::Result<Vec<Product>> {
    let skus: Vec<String> = (0..opts.products)
        .map(|i| format!("BENCH-{i:05}"))
        .collect();
    let names: Vec<String> = (0..opts.products)
        .map(|i| format!("Bench product {i}"))
        .collect();
    let prices: Vec<i64> = (0..opts.products)
        .map(|_| rng.random_range(500..20_000))
        .collect();
    let rows: Vec<ProductRow> = diesel::sql_query(
        "INSERT INTO products (sku, name, price_minor, currency) \
         SELECT s, n, p, $4 FROM unnest($1::text[], $2::text[], $3::int8[]) AS x(s, n, p) \
         RETURNING id, price_minor",
    )
    .bind::<Array<Text>, _>(&skus)
    .bind::<Array<Text>, _>(&names)
    .bind::<Array<BigInt>, _>(&prices)
    .bind::<Text, _>(CURRENCY.as_str())
    .load(conn)
    .await
    .context("inserting products")?;
    let mut products: Vec<Product> = rows
        .into_iter()
        .map(|r| Product {
            id: r.id,
            price_minor: r.price_minor,
        })
        .collect();
    products.sort_by_key(|p| p.id);
    Ok(products)
}

async fn insert_coupons(
    conn: &mut AsyncPgConnection,
    opts: &Opts,
    rng: &mut StdRng,
) -> anyhow::Result<Vec<(i64, i16)>> {
    let codes: Vec<String> = (0..opts.coupons).map(|i| format!("BENCH{i}")).collect();
    let percents: Vec<i16> = (0..opts.coupons)
        .map(|_| *[5i16, 10, 15, 20].choose(rng).unwrap_or(&10))
        .collect();
    #[derive(QueryableByName)]
    struct CouponRow {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = SmallInt)]
        percent_off: i16,
    }
    let rows: Vec<CouponRow> = diesel::sql_query(
        "INSERT INTO coupons (code, percent_off) \
         SELECT c, p FROM unnest($1::text[], $2::int2[]) AS x(c, p) RETURNING id, percent_off",
    )
    .bind::<Array<Text>, _>(&codes)
    .bind::<Array<SmallInt>, _>(&percents)
    .load(conn)
    .await
    .context("inserting coupons")?;
    let mut coupons: Vec<(i64, i16)> = rows.into_iter().map(|r| (r.id, r.percent_off)).collect();
    coupons.sort_unstable();
    Ok(coupons)
}

async fn insert_orders(conn: &mut AsyncPgConnection, rows: &Rows) -> anyhow::Result<()> {
    let n = rows.order_id.len();
    for start in (0..n).step_by(CHUNK) {
        let r = start..(start + CHUNK).min(n);
        diesel::sql_query(
            "INSERT INTO orders (id, user_id, status, coupon_id, subtotal_minor, discount_minor, \
                                 total_minor, currency) \
             SELECT id, u, 'PENDING', c, s, d, t, $7 \
             FROM unnest($1::uuid[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[]) \
                  AS x(id, u, c, s, d, t)",
        )
        .bind::<Array<SqlUuid>, _>(&rows.order_id[r.clone()])
        .bind::<Array<BigInt>, _>(&rows.user_id[r.clone()])
        .bind::<Array<Nullable<BigInt>>, _>(&rows.coupon_id[r.clone()])
        .bind::<Array<BigInt>, _>(&rows.subtotal[r.clone()])
        .bind::<Array<BigInt>, _>(&rows.discount[r.clone()])
        .bind::<Array<BigInt>, _>(&rows.total[r.clone()])
        .bind::<Text, _>(CURRENCY.as_str())
        .execute(conn)
        .await
        .context("inserting orders")?;
        diesel::sql_query(
            "INSERT INTO payments (id, user_id, order_id, amount_minor, currency, status, \
                                   stripe_session_id, stripe_session_status, stripe_payment_status, \
                                   stripe_checkout_url, expires_at) \
             SELECT id, u, o, a, $8, 'PENDING', s, 'open', 'unpaid', url, e \
             FROM unnest($1::uuid[], $2::int8[], $3::uuid[], $4::int8[], $5::text[], $6::text[], \
                         $7::timestamptz[]) AS x(id, u, o, a, s, url, e)",
        )
        .bind::<Array<SqlUuid>, _>(&rows.payment_id[r.clone()])
        .bind::<Array<BigInt>, _>(&rows.user_id[r.clone()])
        .bind::<Array<SqlUuid>, _>(&rows.order_id[r.clone()])
        .bind::<Array<BigInt>, _>(&rows.total[r.clone()])
        .bind::<Array<Text>, _>(&rows.session_id[r.clone()])
        .bind::<Array<Text>, _>(&rows.checkout_url[r.clone()])
        .bind::<Array<Timestamptz>, _>(&rows.expires_at[r.clone()])
        .bind::<Text, _>(CURRENCY.as_str())
        .execute(conn)
        .await
        .context("inserting payments")?;
    }
    let items = rows.item_order.len();
    for start in (0..items).step_by(CHUNK) {
        let r = start..(start + CHUNK).min(items);
        diesel::sql_query(
            "INSERT INTO order_items (order_id, product_id, quantity, unit_price_minor) \
             SELECT * FROM unnest($1::uuid[], $2::int8[], $3::int4[], $4::int8[])",
        )
        .bind::<Array<SqlUuid>, _>(&rows.item_order[r.clone()])
        .bind::<Array<BigInt>, _>(&rows.item_product[r.clone()])
        .bind::<Array<Integer>, _>(&rows.item_quantity[r.clone()])
        .bind::<Array<BigInt>, _>(&rows.item_price[r.clone()])
        .execute(conn)
        .await
        .context("inserting order items")?;
    }
    Ok(())
}

/// Stock = what the orders reserve + 1000 free units; coupon counters =
/// the orders using them.
async fn set_counters(
    conn: &mut AsyncPgConnection,
    products: &[Product],
    rows: &Rows,
) -> anyhow::Result<()> {
    let ids: Vec<i64> = products.iter().map(|p| p.id).collect();
    let sold: Vec<i32> = products
        .iter()
        .map(|p| i32::try_from(rows.reserved.get(&p.id).copied().unwrap_or(0)))
        .collect::<Result<_, _>>()
        .context("more units reserved per product than an INTEGER holds")?;
    diesel::sql_query(
        "INSERT INTO inventory_stock (product_id, units, units_sold) \
         SELECT p, s + 1000, s FROM unnest($1::int8[], $2::int4[]) AS x(p, s)",
    )
    .bind::<Array<BigInt>, _>(&ids)
    .bind::<Array<Integer>, _>(&sold)
    .execute(conn)
    .await
    .context("inserting stock")?;
    let coupon_ids: Vec<i64> = rows.coupon_uses.keys().copied().collect();
    let uses: Vec<i32> = rows
        .coupon_uses
        .values()
        .map(|&n| i32::try_from(n))
        .collect::<Result<_, _>>()
        .context("too many coupon uses")?;
    diesel::sql_query(
        "UPDATE coupons SET times_used = x.n \
         FROM unnest($1::int8[], $2::int4[]) AS x(id, n) WHERE coupons.id = x.id",
    )
    .bind::<Array<BigInt>, _>(&coupon_ids)
    .bind::<Array<Integer>, _>(&uses)
    .execute(conn)
    .await
    .context("setting coupon counters")?;
    Ok(())
}

/// Loads the sessions into the emulator, open or already expired.
async fn load_sessions(emulator_url: &str, rows: &Rows) -> anyhow::Result<usize> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let url = format!(
        "{}/_emulator/sessions/bulk",
        emulator_url.trim_end_matches('/')
    );
    let n = rows.session_id.len();
    let mut loaded = 0;
    for start in (0..n).step_by(EMULATOR_CHUNK) {
        let sessions: Vec<serde_json::Value> = (start..(start + EMULATOR_CHUNK).min(n))
            .map(|i| {
                serde_json::json!({
                    "id": rows.session_id[i],
                    "amount_total": rows.total[i],
                    "currency": CURRENCY.as_str(),
                    "expires_at": rows.expires_at[i].unix_timestamp(),
                    "status": if rows.expired[i] { "expired" } else { "open" },
                    "metadata": {
                        "payment_id": rows.payment_id[i].to_string(),
                        "order_id": rows.order_id[i].to_string(),
                    },
                })
            })
            .collect();
        let response = http
            .post(&url)
            .json(&serde_json::json!({ "sessions": sessions }))
            .send()
            .await
            .with_context(|| format!("cannot reach the Stripe emulator at {url}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            bail!("the Stripe emulator refused the sessions ({status}): {body}");
        }
        loaded += sessions.len();
    }
    Ok(loaded)
}

pub async fn run(conn: &mut AsyncPgConnection, opts: &Opts) -> anyhow::Result<SeedBenchReport> {
    check(opts)?;
    let started = Instant::now();
    let taken: Vec<IdRow> =
        diesel::sql_query("SELECT id FROM users WHERE lower(email) = lower($1)")
            .bind::<Text, _>(&opts.staff_email)
            .load(conn)
            .await
            .context("looking for existing benchmark data")?;
    if !taken.is_empty() {
        bail!("benchmark data already present; recreate the database first");
    }
    // One hash for everybody: Argon2id is deliberately slow.
    let password_hash = hash_password(&opts.password)?;
    let checkout_base = opts
        .emulator_url
        .as_deref()
        .map_or("https://checkout.stripe.com/c", |u| u.trim_end_matches('/'))
        .to_owned();
    let opts_in = opts.clone();
    let rows = conn
        .transaction::<_, anyhow::Error, _>(async |conn| {
            let opts = &opts_in;
            let mut rng = StdRng::seed_from_u64(opts.seed ^ 0x5eed);
            let customers = insert_users(conn, opts, &password_hash).await?;
            let products = insert_products(conn, opts, &mut rng).await?;
            let coupons = insert_coupons(conn, opts, &mut rng).await?;
            let rows = generate(opts, &customers, &products, &coupons, &checkout_base)?;
            insert_orders(conn, &rows).await?;
            set_counters(conn, &products, &rows).await?;
            // Sessions go to the emulator inside the transaction: if Stripe
            // refuses them, no payment is left without its session.
            if let Some(url) = &opts.emulator_url {
                load_sessions(url, &rows).await?;
            }
            Ok(rows)
        })
        .await?;
    for table in [
        "users",
        "products",
        "inventory_stock",
        "coupons",
        "orders",
        "order_items",
        "payments",
    ] {
        diesel::sql_query(format!("ANALYZE {table}"))
            .execute(conn)
            .await
            .with_context(|| format!("ANALYZE {table}"))?;
    }
    Ok(SeedBenchReport {
        users: opts.users,
        staff_email: opts.staff_email.clone(),
        products: opts.products,
        coupons: opts.coupons,
        payments: rows.order_id.len(),
        expired: rows.expired.iter().filter(|&&e| e).count(),
        order_items: rows.item_order.len(),
        units_reserved: rows.reserved.values().sum(),
        coupon_redemptions: rows.coupon_uses.values().sum(),
        sessions_loaded: opts.emulator_url.as_ref().map(|_| rows.session_id.len()),
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

pub fn print(report: &SeedBenchReport, json: bool) -> anyhow::Result<()> {
    if json {
        return super::print_json(report);
    }
    let sessions = match report.sessions_loaded {
        Some(n) => format!(", {n} sessions loaded into the emulator"),
        None => String::new(),
    };
    println!(
        "seeded {} users (+1 staff {}), {} products, {} coupons, {} pending payments \
         ({} past expiry), {} order items{sessions} in {} ms",
        report.users,
        report.staff_email,
        report.products,
        report.coupons,
        report.payments,
        report.expired,
        report.order_items,
        report.elapsed_ms
    );
    Ok(())
}
