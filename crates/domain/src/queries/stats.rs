//! Payment statistics for operators (`payment_stats`) and the public
//! counts (`payment_stats_public`).

use crate::states::PaymentStatus;
use crate::values::money::{Currency, Money};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::collections::BTreeMap;
use time::OffsetDateTime;

#[derive(Debug, QueryableByName)]
struct StatusRow {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
    #[diesel(sql_type = BigInt)]
    amount_minor: i64,
}

#[derive(Debug, QueryableByName)]
struct SourceRow {
    #[diesel(sql_type = Text)]
    source: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(Debug, QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// Count and amounts (per currency) of the payments in one status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusTotals {
    pub count: i64,
    pub amounts: BTreeMap<String, Money>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentStats {
    pub total: i64,
    /// Every status appears, with zero when there is none.
    pub by_status: BTreeMap<&'static str, StatusTotals>,
    /// Payment cancellations by audit source (`user`, `webhook`, ...).
    pub cancellations_by_source: BTreeMap<String, i64>,
    /// Open payments whose session has expired: the sweep's backlog.
    pub pending_expired: i64,
}

pub async fn payment_stats(
    conn: &mut AsyncPgConnection,
    now: OffsetDateTime,
) -> QueryResult<PaymentStats> {
    let rows: Vec<StatusRow> = diesel::sql_query(
        "SELECT status, currency::text AS currency, count(*) AS count, \
                COALESCE(sum(amount_minor), 0)::bigint AS amount_minor \
         FROM payments GROUP BY status, currency",
    )
    .load(conn)
    .await?;
    let mut by_status: BTreeMap<&'static str, StatusTotals> = PaymentStatus::ALL
        .iter()
        .map(|s| (s.as_str(), StatusTotals::default()))
        .collect();
    let mut total = 0;
    for row in rows {
        let Ok(status) = row.status.parse::<PaymentStatus>() else {
            continue;
        };
        let Ok(currency) = row.currency.parse::<Currency>() else {
            continue;
        };
        total += row.count;
        let entry = by_status.entry(status.as_str()).or_default();
        entry.count += row.count;
        entry
            .amounts
            .insert(currency.to_string(), Money::new(row.amount_minor, currency));
    }
    let sources: Vec<SourceRow> = diesel::sql_query(
        "SELECT source, count(*) AS count FROM audit_log \
         WHERE entity = 'payment' AND to_status = 'CANCELLED' GROUP BY source",
    )
    .load(conn)
    .await?;
    let mut cancellations_by_source: BTreeMap<String, i64> =
        ["user", "webhook", "sweep", "cli", "staff"]
            .into_iter()
            .map(|s| (s.to_owned(), 0))
            .collect();
    for row in sources {
        cancellations_by_source.insert(row.source, row.count);
    }
    let pending_expired = diesel::sql_query(
        "SELECT count(*) AS count FROM payments \
         WHERE status IN ('PENDING', 'FAILED') AND expires_at < $1",
    )
    .bind::<Timestamptz, _>(now)
    .get_result::<CountRow>(conn)
    .await?
    .count;
    Ok(PaymentStats {
        total,
        by_status,
        cancellations_by_source,
        pending_expired,
    })
}
