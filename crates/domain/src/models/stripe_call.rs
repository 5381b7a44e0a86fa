//! The log of calls made to Stripe (what the service did in Stripe, when,
//! with which idempotency key, and how it went).

use crate::schema::stripe_calls;
use crate::values::ids::PaymentId;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = stripe_calls, check_for_backend(diesel::pg::Pg))]
pub struct NewStripeCall {
    pub payment_id: Option<PaymentId>,
    pub operation: String,
    pub object_id: Option<String>,
    pub idempotency_key: Option<String>,
    /// `ok`, or the error class (`transient`, `not_found`, ...).
    pub outcome: String,
    pub error: Option<String>,
    pub duration_ms: i32,
    /// When the call was made: a row may be written in the background
    /// after a later call's row, and the timeline orders calls by this.
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = stripe_calls, check_for_backend(diesel::pg::Pg))]
pub struct StripeCall {
    pub operation: String,
    pub object_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub outcome: String,
    pub error: Option<String>,
    pub duration_ms: i32,
    pub created_at: OffsetDateTime,
}

impl NewStripeCall {
    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        diesel::insert_into(stripe_calls::table)
            .values(self)
            .execute(conn)
            .await
            .map(drop)
    }
}

impl StripeCall {
    /// Calls made for the payment or on its session / payment intent.
    pub async fn for_payment(
        conn: &mut AsyncPgConnection,
        payment: PaymentId,
        objects: &[String],
    ) -> QueryResult<Vec<Self>> {
        stripe_calls::table
            .filter(
                stripe_calls::payment_id
                    .eq(payment)
                    .or(stripe_calls::object_id.eq_any(objects)),
            )
            .order((stripe_calls::created_at.asc(), stripe_calls::id.asc()))
            .select(Self::as_select())
            .load(conn)
            .await
    }

    /// Forgets calls older than `before`.
    pub async fn delete_before(
        conn: &mut AsyncPgConnection,
        before: OffsetDateTime,
    ) -> QueryResult<usize> {
        diesel::delete(stripe_calls::table.filter(stripe_calls::created_at.lt(before)))
            .execute(conn)
            .await
    }
}
