//! What a chaos run reports: requests by operation and answer, faults by
//! kind, what the settling and the checks found, table counts, and the
//! figures section of docs/reliability.md.

use super::faults::FaultCounts;
use super::load::{Answer, LoadCounts};
use crate::checks::Findings;
use crate::settle::SettleReport;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

pub const DOC_BEGIN: &str = "<!-- chaos-figures:begin -->";
pub const DOC_END: &str = "<!-- chaos-figures:end -->";

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    label: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Rows by table and status at the end of the run.
pub async fn table_counts(conn: &mut AsyncPgConnection) -> anyhow::Result<BTreeMap<String, i64>> {
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT 'payments ' || status AS label, COUNT(*) AS n FROM payments GROUP BY status \
         UNION ALL SELECT 'tasks ' || job_name || ' ' || status, COUNT(*) FROM task_records GROUP BY job_name, status \
         UNION ALL SELECT 'stripe_events received', COUNT(*) FROM stripe_events \
         UNION ALL SELECT 'audit rows', COUNT(*) FROM audit_log \
         UNION ALL SELECT 'reservation releases', COUNT(*) FROM reservation_releases \
         UNION ALL SELECT 'sweep runs', COUNT(*) FROM sweep_runs",
    )
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.label, r.n)).collect())
}

#[derive(Debug)]
pub struct Summary {
    pub load: LoadCounts,
    /// The first requests that got no clear answer, as they came.
    pub unclear: Vec<String>,
    pub faults: FaultCounts,
    pub settle: SettleReport,
    pub findings: Findings,
    pub tables: BTreeMap<String, i64>,
    pub duration: Duration,
    pub load_for: Duration,
    pub customers: usize,
}

impl Summary {
    /// Requests to the service (the emulator's control actions, which
    /// stand for the customer's browser, are counted apart).
    pub fn requests(&self) -> u64 {
        self.load
            .iter()
            .filter(|((op, _), _)| !is_customer_at_stripe(op))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn by_answer(&self) -> BTreeMap<Answer, u64> {
        let mut out = BTreeMap::new();
        for ((_, answer), n) in &self.load {
            *out.entry(*answer).or_default() += n;
        }
        out
    }

    /// Every broken promise: invariants, unfinished work, requests that
    /// hung or got no clear answer.
    pub fn violations(&self) -> Vec<String> {
        let mut v = self.settle.problems.clone();
        v.extend(self.findings.violations.iter().cloned());
        for ((op, answer), n) in &self.load {
            if !answer.is_clear() && !is_customer_at_stripe(op) {
                v.push(format!("{n} {op} requests ended {answer:?}"));
            }
        }
        v
    }

    pub fn render(&self, command: &str) -> String {
        let mut out = String::new();
        let violations = self.violations();
        let _ = writeln!(out, "Command: `{command}`  ");
        let _ = writeln!(
            out,
            "Duration: {:.0} s in all ({} s of load, {} concurrent customers, settling {:.0} s)  ",
            self.duration.as_secs_f64(),
            self.load_for.as_secs(),
            self.customers,
            self.settle.duration.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "Requests to the service: {} (plus the customers' actions on Stripe's page, `stripe:` rows)  ",
            self.requests()
        );
        let _ = writeln!(out, "Violations: **{}**\n", violations.len());
        let _ = writeln!(out, "| operation | answer | count |\n|---|---|---:|");
        for ((op, answer), n) in &self.load {
            let _ = writeln!(out, "| {op} | {answer:?} | {n} |");
        }
        let _ = writeln!(out, "\n| fault injected | times |\n|---|---:|");
        for (fault, n) in &self.faults {
            let _ = writeln!(out, "| {fault:?} | {n} |");
        }
        let _ = writeln!(out, "\n| at the end | rows |\n|---|---:|");
        for (label, n) in &self.tables {
            let _ = writeln!(out, "| {label} | {n} |");
        }
        if !violations.is_empty() {
            let _ = writeln!(out, "\nViolations:\n");
            for v in &violations {
                let _ = writeln!(out, "- {v}");
            }
        }
        if !self.unclear.is_empty() {
            let _ = writeln!(
                out,
                "\nUnclear answers (the first {}):\n",
                self.unclear.len()
            );
            for u in &self.unclear {
                let _ = writeln!(out, "- `{u}`");
            }
        }
        if !self.findings.notes.is_empty() {
            let _ = writeln!(
                out,
                "\nNotes (not violations: jobs that failed while a fault was on):\n"
            );
            for n in self.findings.notes.iter().take(20) {
                let _ = writeln!(out, "- {n}");
            }
            if self.findings.notes.len() > 20 {
                let _ = writeln!(out, "- … and {} more", self.findings.notes.len() - 20);
            }
        }
        out
    }
}

/// The load's `stripe: pay` / `stripe: decline`: the customer's browser on
/// the emulator's page, not a request to the service.
fn is_customer_at_stripe(op: &str) -> bool {
    op.starts_with("stripe:")
}

/// Replaces the figures between the markers of `doc` with `figures`.
pub fn splice(doc: &str, figures: &str) -> Option<String> {
    let start = doc.find(DOC_BEGIN)? + DOC_BEGIN.len();
    let end = doc.find(DOC_END)?;
    (start <= end).then(|| format!("{}\n{figures}\n{}", &doc[..start], &doc[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_only_the_text_between_the_markers() {
        let doc = format!("intro\n{DOC_BEGIN}\nold\n{DOC_END}\nafter\n");
        let new = splice(&doc, "new figures").unwrap();
        assert_eq!(
            new,
            format!("intro\n{DOC_BEGIN}\nnew figures\n{DOC_END}\nafter\n")
        );
        assert_eq!(splice("no markers", "x"), None);
    }
}
