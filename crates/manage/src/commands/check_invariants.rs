//! `manage check_invariants`: the invariants of SPEC §4 over the whole
//! database (the SQL of `domain::invariants`, the same the tests run), plus
//! the totals they compare, so a benchmark can show that cancelling under
//! load kept stock and coupons exact. Exit status 1 on any violation.

use anyhow::{Context, bail};
use clap::Args;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Args)]
pub struct Opts {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvariantsReport {
    pub ok: bool,
    pub violations: Vec<String>,
    /// Payments per status.
    pub payments: BTreeMap<String, i64>,
    /// Σ `inventory_stock.units_sold`.
    pub units_sold: i64,
    /// Σ quantities of order lines not released (must equal `units_sold`).
    pub units_reserved: i64,
    /// Σ `coupons.times_used`.
    pub coupon_times_used: i64,
}

#[derive(QueryableByName)]
struct StatusCount {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Totals {
    #[diesel(sql_type = BigInt)]
    units_sold: i64,
    #[diesel(sql_type = BigInt)]
    units_reserved: i64,
    #[diesel(sql_type = BigInt)]
    coupon_times_used: i64,
}

const TOTALS: &str = "
SELECT (SELECT COALESCE(SUM(units_sold), 0)::int8 FROM inventory_stock) AS units_sold,
       (SELECT COALESCE(SUM(oi.quantity), 0)::int8 FROM order_items oi
        WHERE NOT EXISTS (SELECT 1 FROM reservation_releases rr
                          WHERE rr.order_id = oi.order_id
                            AND rr.resource = 'stock:' || oi.product_id)) AS units_reserved,
       (SELECT COALESCE(SUM(times_used), 0)::int8 FROM coupons) AS coupon_times_used";

pub async fn run(conn: &mut AsyncPgConnection, _opts: &Opts) -> anyhow::Result<InvariantsReport> {
    let found = domain::invariants::find_violations(conn)
        .await
        .context("running the invariant queries")?;
    let statuses: Vec<StatusCount> =
        diesel::sql_query("SELECT status, COUNT(*) AS n FROM payments GROUP BY status")
            .load(conn)
            .await
            .context("counting payments")?;
    let totals: Totals = diesel::sql_query(TOTALS)
        .get_result(conn)
        .await
        .context("summing stock and coupons")?;
    Ok(InvariantsReport {
        ok: found.violations.is_empty(),
        violations: found.violations,
        payments: statuses.into_iter().map(|s| (s.status, s.n)).collect(),
        units_sold: totals.units_sold,
        units_reserved: totals.units_reserved,
        coupon_times_used: totals.coupon_times_used,
    })
}

/// Prints the report; a violation becomes the command's error (exit 1).
pub fn print(report: &InvariantsReport, json: bool) -> anyhow::Result<()> {
    if json {
        super::print_json(report)?;
    } else {
        let payments: Vec<String> = report
            .payments
            .iter()
            .map(|(status, n)| format!("{n} {status}"))
            .collect();
        println!(
            "payments: {}; units_sold {} = unreleased reservations {}; coupons used {}",
            if payments.is_empty() {
                "none".to_owned()
            } else {
                payments.join(", ")
            },
            report.units_sold,
            report.units_reserved,
            report.coupon_times_used
        );
        for violation in &report.violations {
            println!("violation: {violation}");
        }
    }
    if !report.ok {
        bail!("{} invariant violation(s)", report.violations.len());
    }
    Ok(())
}
