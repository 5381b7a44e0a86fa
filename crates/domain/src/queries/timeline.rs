//! One payment's history as a single ordered list: its (and its order's)
//! transitions, the Stripe events about it, the jobs run for it and what
//! sweeps did to it.

use crate::audit::{self, Entity};
use crate::models::payment::Payment;
use crate::models::stripe_call::StripeCall;
use crate::models::sweep_run::SweepRun;
use crate::schema::task_records;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// One entry; `data` depends on `kind` (`transition`, `stripe_event`,
/// `task`, `sweep`, `stripe_call`).
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    pub at: OffsetDateTime,
    pub kind: &'static str,
    pub data: Value,
}

#[derive(Debug, QueryableByName)]
struct EventRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    received_at: OffsetDateTime,
    #[diesel(sql_type = Nullable<diesel::sql_types::Timestamptz>)]
    processed_at: Option<OffsetDateTime>,
    #[diesel(sql_type = Nullable<Text>)]
    processing_error: Option<String>,
}

fn rfc3339(at: OffsetDateTime) -> Value {
    at.format(&time::format_description::well_known::Rfc3339)
        .map_or(Value::Null, Value::String)
}

async fn transitions(
    conn: &mut AsyncPgConnection,
    payment: &Payment,
) -> QueryResult<Vec<TimelineEntry>> {
    let mut entries = Vec::new();
    for entity in [
        Entity::Payment(payment.id.0),
        Entity::Order(payment.order_id.0),
    ] {
        for row in audit::history(conn, entity).await? {
            entries.push(TimelineEntry {
                at: row.created_at,
                kind: "transition",
                data: json!({
                    "entity": row.entity,
                    "from": row.from_status,
                    "to": row.to_status,
                    "source": row.source,
                    "actor": row.actor,
                    "detail": row.detail,
                }),
            });
        }
    }
    Ok(entries)
}

async fn events(
    conn: &mut AsyncPgConnection,
    payment: &Payment,
) -> QueryResult<Vec<TimelineEntry>> {
    let rows: Vec<EventRow> = diesel::sql_query(
        "SELECT id, event_type, received_at, processed_at, processing_error FROM stripe_events \
         WHERE payload->'data'->'object'->'metadata'->>'payment_id' = $1 \
            OR ($2::text IS NOT NULL AND payload->'data'->'object'->>'id' = $2) \
            OR ($3::text IS NOT NULL AND (payload->'data'->'object'->>'id' = $3 \
                 OR payload->'data'->'object'->>'payment_intent' = $3))",
    )
    .bind::<Text, _>(payment.id.to_string())
    .bind::<Nullable<Text>, _>(payment.stripe_session_id.as_deref())
    .bind::<Nullable<Text>, _>(payment.stripe_payment_intent_id.as_deref())
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|e| TimelineEntry {
            at: e.received_at,
            kind: "stripe_event",
            data: json!({
                "event_id": e.id,
                "type": e.event_type,
                "processed_at": e.processed_at.map(rfc3339),
                "processing_error": e.processing_error,
            }),
        })
        .collect())
}

async fn tasks(conn: &mut AsyncPgConnection, payment: &Payment) -> QueryResult<Vec<TimelineEntry>> {
    let rows: Vec<(String, String, String, i32, Option<String>, OffsetDateTime)> =
        task_records::table
            .filter(task_records::payment_id.eq(payment.id))
            .order(task_records::created_at.asc())
            .select((
                task_records::id,
                task_records::job_name,
                task_records::status,
                task_records::attempts,
                task_records::error,
                task_records::created_at,
            ))
            .load(conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, job, status, attempts, error, at)| TimelineEntry {
            at,
            kind: "task",
            data: json!({
                "task_id": id, "job": job, "status": status,
                "attempts": attempts, "error": error,
            }),
        })
        .collect())
}

async fn sweeps(
    conn: &mut AsyncPgConnection,
    payment: &Payment,
) -> QueryResult<Vec<TimelineEntry>> {
    Ok(SweepRun::outcomes_for_payment(conn, payment.id.0)
        .await?
        .into_iter()
        .map(|o| TimelineEntry {
            at: o.created_at,
            kind: "sweep",
            data: json!({ "run_id": o.run_id, "action": o.action, "detail": o.detail }),
        })
        .collect())
}

async fn stripe_calls(
    conn: &mut AsyncPgConnection,
    payment: &Payment,
) -> QueryResult<Vec<TimelineEntry>> {
    let objects: Vec<String> = [
        &payment.stripe_session_id,
        &payment.stripe_payment_intent_id,
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    Ok(StripeCall::for_payment(conn, payment.id, &objects)
        .await?
        .into_iter()
        .map(|c| TimelineEntry {
            at: c.created_at,
            kind: "stripe_call",
            data: json!({
                "operation": c.operation, "object_id": c.object_id,
                "idempotency_key": c.idempotency_key, "outcome": c.outcome,
                "error": c.error, "duration_ms": c.duration_ms,
            }),
        })
        .collect())
}

/// Everything known about `payment`, oldest first (stable for equal times).
pub async fn payment_timeline(
    conn: &mut AsyncPgConnection,
    payment: &Payment,
) -> QueryResult<Vec<TimelineEntry>> {
    let mut entries = vec![TimelineEntry {
        at: payment.created_at,
        kind: "created",
        data: json!({
            "amount_minor": payment.amount_minor,
            "currency": payment.currency,
            "stripe_session_id": payment.stripe_session_id,
        }),
    }];
    entries.extend(transitions(conn, payment).await?);
    entries.extend(events(conn, payment).await?);
    entries.extend(tasks(conn, payment).await?);
    entries.extend(sweeps(conn, payment).await?);
    entries.extend(stripe_calls(conn, payment).await?);
    entries.sort_by_key(|e| e.at);
    Ok(entries)
}
