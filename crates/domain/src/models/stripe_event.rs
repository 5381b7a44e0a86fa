//! Stripe webhook events as received, stored before Stripe gets its 2xx.

use crate::schema::stripe_events;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = stripe_events, check_for_backend(diesel::pg::Pg))]
pub struct StoredEvent {
    pub id: String,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub received_at: OffsetDateTime,
    pub processed_at: Option<OffsetDateTime>,
    pub attempts: i32,
    pub processing_error: Option<String>,
}

/// Whether an incoming event is new or a redelivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New,
    Duplicate { processed: bool },
}

impl StoredEvent {
    /// Stores the event once; a redelivery (same id) is reported, not stored.
    pub async fn store(
        conn: &mut AsyncPgConnection,
        id: &str,
        event_type: &str,
        payload: &serde_json::Value,
    ) -> QueryResult<Stored> {
        // The first delivery holds the enqueue claim from its insert: no
        // extra statement on the webhook's hot path.
        let inserted = diesel::insert_into(stripe_events::table)
            .values((
                stripe_events::id.eq(id),
                stripe_events::event_type.eq(event_type),
                stripe_events::payload.eq(payload),
                stripe_events::enqueued_at.eq(OffsetDateTime::now_utc()),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        if inserted == 1 {
            return Ok(Stored::New);
        }
        let processed_at: Option<OffsetDateTime> = stripe_events::table
            .find(id)
            .select(stripe_events::processed_at)
            .first(conn)
            .await?;
        Ok(Stored::Duplicate {
            processed: processed_at.is_some(),
        })
    }

    /// Claims, for a redelivery, the enqueueing of the event's job: `true`
    /// for exactly one caller, while the event is unprocessed and no job
    /// was enqueued for it (the first delivery claims it by storing it).
    /// Concurrent deliveries race on this one conditional UPDATE, so they
    /// enqueue one job between them.
    pub async fn claim_enqueue(conn: &mut AsyncPgConnection, id: &str) -> QueryResult<bool> {
        diesel::update(
            stripe_events::table
                .find(id)
                .filter(stripe_events::processed_at.is_null())
                .filter(stripe_events::enqueued_at.is_null()),
        )
        .set(stripe_events::enqueued_at.eq(OffsetDateTime::now_utc()))
        .execute(conn)
        .await
        .map(|claimed| claimed == 1)
    }

    /// Gives the claim back after the enqueue failed (Redis down), so that
    /// a redelivery can enqueue the job; the sweep processes it otherwise.
    pub async fn release_enqueue(conn: &mut AsyncPgConnection, id: &str) -> QueryResult<()> {
        diesel::update(stripe_events::table.find(id))
            .set(stripe_events::enqueued_at.eq(None::<OffsetDateTime>))
            .execute(conn)
            .await
            .map(drop)
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: &str) -> QueryResult<Option<Self>> {
        stripe_events::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Events never processed, received before `before`: the least tried
    /// first, then the oldest, so that events which keep waiting (for a
    /// session the service does not know) cannot crowd newer ones out.
    pub async fn unprocessed(
        conn: &mut AsyncPgConnection,
        before: OffsetDateTime,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        stripe_events::table
            .filter(stripe_events::processed_at.is_null())
            .filter(stripe_events::received_at.lt(before))
            .order((
                stripe_events::attempts.asc(),
                stripe_events::received_at.asc(),
            ))
            .limit(limit)
            .select(Self::as_select())
            .load(conn)
            .await
    }

    /// Marks the event done; `error` keeps why it was given up on, if so.
    pub async fn mark_processed(
        conn: &mut AsyncPgConnection,
        id: &str,
        error: Option<&str>,
    ) -> QueryResult<()> {
        diesel::update(stripe_events::table.find(id))
            .set((
                stripe_events::processed_at.eq(OffsetDateTime::now_utc()),
                stripe_events::attempts.eq(stripe_events::attempts + 1),
                stripe_events::processing_error.eq(error),
            ))
            .execute(conn)
            .await
            .map(drop)
    }

    pub async fn mark_failed_attempt(
        conn: &mut AsyncPgConnection,
        id: &str,
        error: &str,
    ) -> QueryResult<()> {
        diesel::update(stripe_events::table.find(id))
            .set((
                stripe_events::attempts.eq(stripe_events::attempts + 1),
                stripe_events::processing_error.eq(error),
            ))
            .execute(conn)
            .await
            .map(drop)
    }
}
