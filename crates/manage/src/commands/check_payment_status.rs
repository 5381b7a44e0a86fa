//! `manage check_payment_status`: a table of payments (default: PENDING)
//! with their order and Stripe mirror. `--watch` (or `--duration`) redraws
//! it every `--interval` seconds, highlighting what changed since the last
//! refresh, until Ctrl+C or the end of `--duration` (exit 0 either way).
//! With `--json`, one JSON object per refresh (JSON lines).

use super::create_user::parse_email;
use crate::payments::{PaymentRow, Selection, or_dash, short_time};
use crate::waiting::MAX_SECS;
use clap::Args;
use comfy_table::{Cell, Color, Table, presets::UTF8_FULL_CONDENSED};
use diesel_async::AsyncPgConnection;
use domain::PaymentStatus;
use domain::values::email::Email;
use serde::Serialize;
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::time::Instant;
use uuid::Uuid;

#[derive(Debug, Clone, Args)]
pub struct Opts {
    /// One payment (any status).
    #[arg(long)]
    pub payment_id: Option<Uuid>,

    /// This user's payments (all statuses).
    #[arg(long, value_parser = parse_email)]
    pub user_email: Option<Email>,

    /// Keep refreshing the table until Ctrl+C (or the end of --duration);
    /// with --json, one JSON object per refresh.
    #[arg(long)]
    pub watch: bool,

    /// Stop watching after this many seconds (implies --watch).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_SECS))]
    pub duration: Option<u64>,

    /// Seconds between refreshes while watching.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=MAX_SECS))]
    pub interval: u64,
}

impl Opts {
    pub fn watching(&self) -> bool {
        self.watch || self.duration.is_some()
    }

    pub fn selection(&self) -> Selection {
        Selection::from_flags(
            self.payment_id,
            self.user_email.as_ref(),
            &[],
            &PaymentStatus::OPEN,
        )
    }
}

/// A payment in the table, with the latest change seen while watching.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusRow {
    #[serde(flatten)]
    pub payment: PaymentRow,
    /// The latest change seen while watching (`PENDING → CANCELLED, order
    /// → CANCELLED at 20:38:01`, `new at ...`); absent when none was seen.
    pub change: Option<String>,
    /// The change happened since the previous refresh (highlighted).
    pub fresh: bool,
}

/// One refresh of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub payments: Vec<StatusRow>,
}

/// Reads the payments. Payments of `previous` that no longer match (e.g.
/// no longer PENDING) stay in the table, so their change shows.
pub async fn snapshot(
    conn: &mut AsyncPgConnection,
    selection: &Selection,
    previous: Option<&Snapshot>,
) -> anyhow::Result<Snapshot> {
    let mut rows: Vec<PaymentRow> = selection
        .load(conn)
        .await?
        .iter()
        .map(PaymentRow::from)
        .collect();
    let before: HashMap<Uuid, &StatusRow> = previous
        .map(|s| {
            s.payments
                .iter()
                .map(|r| (r.payment.payment_id, r))
                .collect()
        })
        .unwrap_or_default();
    for id in before.keys() {
        if !rows.iter().any(|r| r.payment_id == *id) {
            let gone = Selection::Payment(*id, None).load(conn).await?;
            rows.extend(gone.iter().map(PaymentRow::from));
        }
    }
    let at = OffsetDateTime::now_utc();
    let payments = rows
        .into_iter()
        .map(|payment| {
            let earlier = before.get(&payment.payment_id).copied();
            let fresh = previous
                .and_then(|_| change(earlier.map(|r| &r.payment), &payment))
                .map(|what| format!("{what} at {}", clock(at)));
            StatusRow {
                fresh: fresh.is_some(),
                change: fresh.or_else(|| earlier.and_then(|r| r.change.clone())),
                payment,
            }
        })
        .collect();
    Ok(Snapshot { at, payments })
}

/// `HH:MM:SS` (UTC).
fn clock(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// What changed between two readings of a payment.
pub fn change(before: Option<&PaymentRow>, now: &PaymentRow) -> Option<String> {
    let Some(before) = before else {
        return Some("new".into());
    };
    let mut parts = Vec::new();
    if before.payment_status != now.payment_status {
        parts.push(format!(
            "{} → {}",
            before.payment_status, now.payment_status
        ));
    }
    if before.order_status != now.order_status {
        parts.push(format!("order → {}", now.order_status));
    }
    if before.stripe_session_status != now.stripe_session_status {
        let session = or_dash(now.stripe_session_status.as_deref());
        parts.push(format!("session → {session}"));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// How a watch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Watched {
    pub refreshes: u32,
    pub interrupted: bool,
}

/// Refreshes every `interval` and hands each snapshot to `show`, until
/// Ctrl+C or `duration` (none: until Ctrl+C).
pub async fn watch(
    conn: &mut AsyncPgConnection,
    opts: &Opts,
    mut show: impl FnMut(&Snapshot) -> anyhow::Result<()>,
) -> anyhow::Result<Watched> {
    let selection = opts.selection();
    let interval = Duration::from_secs(opts.interval);
    let deadline = opts
        .duration
        .map(|d| Instant::now() + Duration::from_secs(d));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut previous: Option<Snapshot> = None;
    let mut refreshes = 0;
    loop {
        let current = snapshot(conn, &selection, previous.as_ref()).await?;
        refreshes += 1;
        show(&current)?;
        previous = Some(current);
        let pause = match deadline {
            Some(deadline) if Instant::now() >= deadline => break,
            Some(deadline) => interval.min(deadline - Instant::now()),
            None => interval,
        };
        tokio::select! {
            _ = &mut ctrl_c => return Ok(Watched { refreshes, interrupted: true }),
            () = tokio::time::sleep(pause) => {}
        }
    }
    Ok(Watched {
        refreshes,
        interrupted: false,
    })
}

pub async fn run(conn: &mut AsyncPgConnection, opts: &Opts, json: bool) -> anyhow::Result<()> {
    if !opts.watching() {
        return print(&snapshot(conn, &opts.selection(), None).await?, json);
    }
    let redraw = !json && std::io::stdout().is_terminal();
    let ends = match opts.duration {
        Some(secs) => format!("for {secs}s, Ctrl+C stops"),
        None => "until Ctrl+C".to_owned(),
    };
    watch(conn, opts, |snapshot| {
        if json {
            return super::print_json(snapshot);
        }
        let mut out = std::io::stdout().lock();
        if redraw {
            write!(out, "\x1b[2J\x1b[H")?;
        }
        writeln!(
            out,
            "payments at {} (every {}s {ends})",
            short_time(Some(snapshot.at)),
            opts.interval
        )?;
        writeln!(out, "{}", table(snapshot))?;
        out.flush()?;
        Ok(())
    })
    .await
    .map(drop)
}

pub fn print(snapshot: &Snapshot, json: bool) -> anyhow::Result<()> {
    if json {
        return super::print_json(snapshot);
    }
    if snapshot.payments.is_empty() {
        println!("no matching payments");
    } else {
        println!("{}", table(snapshot));
    }
    Ok(())
}

pub fn table(snapshot: &Snapshot) -> Table {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "",
        "payment",
        "user",
        "amount",
        "status",
        "order",
        "session / payment (mirror)",
        "expires",
        "changed",
    ]);
    for row in &snapshot.payments {
        let p = &row.payment;
        let marker = if row.fresh { "●" } else { "" };
        let cells = [
            marker.to_owned(),
            p.payment_id.to_string(),
            p.user_email.clone(),
            p.amount_with_currency(),
            p.payment_status.to_string(),
            p.order_status.to_string(),
            format!(
                "{} / {}",
                or_dash(p.stripe_session_status.as_deref()),
                or_dash(p.stripe_payment_status.as_deref())
            ),
            short_time(p.expires_at),
            row.change.clone().unwrap_or_default(),
        ];
        table.add_row(cells.into_iter().map(|text| {
            let cell = Cell::new(text);
            if row.fresh {
                cell.fg(Color::Yellow)
            } else {
                cell
            }
        }));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::OrderStatus;

    fn row(status: PaymentStatus, order: OrderStatus, session: &str) -> PaymentRow {
        PaymentRow {
            payment_id: Uuid::nil(),
            order_id: Uuid::nil(),
            user_email: "ana@example.com".into(),
            amount: "10.00".into(),
            currency: "USD".into(),
            payment_status: status,
            order_status: order,
            stripe_session_id: Some("cs_test_1".into()),
            stripe_session_status: Some(session.into()),
            stripe_payment_status: Some("unpaid".into()),
            expires_at: None,
            stripe_expire_pending: false,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_change_names_what_moved_and_nothing_else() {
        let pending = row(PaymentStatus::Pending, OrderStatus::Pending, "open");
        let cancelled = row(PaymentStatus::Cancelled, OrderStatus::Cancelled, "expired");
        assert_eq!(change(Some(&pending), &pending), None);
        assert_eq!(
            change(Some(&pending), &cancelled).as_deref(),
            Some("PENDING → CANCELLED, order → CANCELLED, session → expired")
        );
        assert_eq!(change(None, &pending).as_deref(), Some("new"));
    }
}
