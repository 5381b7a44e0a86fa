//! Payments and the mirror of their Stripe Checkout Session.

use crate::gateway::CheckoutSession;
use crate::models::order::Order;
use crate::schema::{orders, payments};
use crate::states::PaymentStatus;
use crate::values::ids::{OrderId, PaymentId, UserId};
use crate::values::money::{Currency, Money};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = payments, check_for_backend(diesel::pg::Pg))]
pub struct Payment {
    pub id: PaymentId,
    pub user_id: UserId,
    pub order_id: OrderId,
    pub amount_minor: i64,
    pub currency: Currency,
    pub status: PaymentStatus,
    pub stripe_session_id: Option<String>,
    pub stripe_payment_intent_id: Option<String>,
    pub stripe_session_status: Option<String>,
    pub stripe_payment_status: Option<String>,
    pub stripe_checkout_url: Option<String>,
    pub expires_at: Option<OffsetDateTime>,
    pub stripe_expire_pending: bool,
    pub error_message: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
    pub cancelled_at: Option<OffsetDateTime>,
    pub refunded_at: Option<OffsetDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = payments)]
pub struct NewPayment {
    pub id: PaymentId,
    pub user_id: UserId,
    pub order_id: OrderId,
    pub amount_minor: i64,
    pub currency: Currency,
    pub status: PaymentStatus,
}

/// What Stripe told us about the session, written onto the payment.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = payments)]
pub struct SessionMirror {
    pub stripe_session_id: String,
    pub stripe_session_status: String,
    pub stripe_payment_status: String,
    /// `None` leaves the stored intent alone (Stripe omits it until payment).
    pub stripe_payment_intent_id: Option<String>,
    /// `Some(None)` clears the URL: Stripe drops it once the session closes.
    pub stripe_checkout_url: Option<Option<String>>,
    /// `None` leaves the stored expiry alone (a trimmed event lacked it).
    pub expires_at: Option<OffsetDateTime>,
}

impl From<&CheckoutSession> for SessionMirror {
    fn from(session: &CheckoutSession) -> Self {
        Self {
            stripe_session_id: session.id.clone(),
            stripe_session_status: session.status.as_str().to_owned(),
            stripe_payment_status: session.payment_status.as_str().to_owned(),
            stripe_payment_intent_id: session.payment_intent_id.clone(),
            stripe_checkout_url: Some(session.url.clone()),
            expires_at: session.expires_at,
        }
    }
}

impl Payment {
    pub fn amount(&self) -> Money {
        Money::new(self.amount_minor, self.currency)
    }

    /// Whether a Checkout Session is this payment's own: the one stored,
    /// or any while checkout has not stored one yet. Another session that
    /// merely carries our metadata must not overwrite the stored one.
    pub fn owns_session(&self, session_id: &str) -> bool {
        self.stripe_session_id
            .as_deref()
            .is_none_or(|own| own == session_id)
    }

    /// The same for PaymentIntents: a Checkout Session has one, learnt when
    /// the customer first submits payment, and a retried card reuses it.
    pub fn owns_payment_intent(&self, payment_intent_id: &str) -> bool {
        self.stripe_payment_intent_id
            .as_deref()
            .is_none_or(|own| own == payment_intent_id)
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: PaymentId) -> QueryResult<Option<Self>> {
        payments::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Reads the payment under a row lock held until the transaction ends.
    pub async fn lock(conn: &mut AsyncPgConnection, id: PaymentId) -> QueryResult<Option<Self>> {
        payments::table
            .find(id)
            .select(Self::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    /// The payment and its order, both under row locks held until the
    /// transaction ends. One statement takes both, payment first (the
    /// order every writer follows), so it cannot deadlock with them.
    pub async fn lock_with_order(
        conn: &AsyncPgConnection,
        id: PaymentId,
    ) -> QueryResult<Option<(Self, Order)>> {
        payments::table
            .inner_join(orders::table)
            .filter(payments::id.eq(id))
            .select((Self::as_select(), Order::as_select()))
            .for_update()
            .first(&mut { conn })
            .await
            .optional()
    }

    pub async fn find_by_session(
        conn: &mut AsyncPgConnection,
        session_id: &str,
    ) -> QueryResult<Option<Self>> {
        payments::table
            .filter(payments::stripe_session_id.eq(session_id))
            .select(Self::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn find_by_payment_intent(
        conn: &mut AsyncPgConnection,
        payment_intent_id: &str,
    ) -> QueryResult<Option<Self>> {
        payments::table
            .filter(payments::stripe_payment_intent_id.eq(payment_intent_id))
            .select(Self::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn insert(conn: &mut AsyncPgConnection, new: &NewPayment) -> QueryResult<Self> {
        diesel::insert_into(payments::table)
            .values(new)
            .returning(Self::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn store_mirror(
        conn: &AsyncPgConnection,
        id: PaymentId,
        mirror: &SessionMirror,
    ) -> QueryResult<()> {
        diesel::update(payments::table.find(id))
            .set((mirror, payments::updated_at.eq(OffsetDateTime::now_utc())))
            .execute(&mut { conn })
            .await
            .map(drop)
    }

    /// Remembers (or forgets) that Stripe still has to be told to expire
    /// the session; the sweep retries while this is set.
    pub async fn set_expire_pending(
        conn: &AsyncPgConnection,
        id: PaymentId,
        pending: bool,
    ) -> QueryResult<()> {
        diesel::update(payments::table.find(id))
            .set((
                payments::stripe_expire_pending.eq(pending),
                payments::updated_at.eq(OffsetDateTime::now_utc()),
            ))
            .execute(&mut { conn })
            .await
            .map(drop)
    }

    /// PENDING or FAILED: the customer may still pay or the session expire.
    fn open<'a>() -> payments::BoxedQuery<'a, diesel::pg::Pg> {
        payments::table
            .filter(payments::status.eq_any(PaymentStatus::OPEN))
            .into_boxed()
    }

    /// Open payments whose session has expired by `now`, oldest first
    /// (served by the partial index `payments_open_expiry_idx`).
    pub async fn open_and_expired(
        conn: &mut AsyncPgConnection,
        now: OffsetDateTime,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        Self::open()
            .filter(payments::expires_at.lt(now))
            .order(payments::expires_at.asc())
            .limit(limit)
            .select(Self::as_select())
            .load(conn)
            .await
    }

    /// Open payments created before `created_before` that never stored a
    /// Checkout Session (served by `payments_open_without_session_idx`).
    pub async fn open_without_session(
        conn: &mut AsyncPgConnection,
        created_before: OffsetDateTime,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        let without_session = Self::open().filter(payments::stripe_session_id.is_null());
        Self::oldest_created_before(conn, without_session, created_before, limit).await
    }

    /// Open payments created before `created_before` whatever their
    /// expiry (`--force`: sessions older than the TTL).
    pub async fn open_created_before(
        conn: &mut AsyncPgConnection,
        created_before: OffsetDateTime,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        Self::oldest_created_before(conn, Self::open(), created_before, limit).await
    }

    /// The payments of `query` created before `created_before`, oldest first.
    async fn oldest_created_before(
        conn: &mut AsyncPgConnection,
        query: payments::BoxedQuery<'_, diesel::pg::Pg>,
        created_before: OffsetDateTime,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        query
            .filter(payments::created_at.lt(created_before))
            .order(payments::created_at.asc())
            .limit(limit)
            .select(Self::as_select())
            .load(conn)
            .await
    }

    /// Cancelled payments whose session Stripe has not been told to expire.
    pub async fn expire_pending(
        conn: &mut AsyncPgConnection,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        payments::table
            .filter(payments::stripe_expire_pending.eq(true))
            .order(payments::updated_at.asc())
            .limit(limit)
            .select(Self::as_select())
            .load(conn)
            .await
    }

    /// How many open payments are past their session's expiry: what the
    /// sweep has yet to reconcile. A number that keeps growing means the
    /// sweep is not running (alerted on as stuck pending payments).
    pub async fn count_open_and_expired(
        conn: &mut AsyncPgConnection,
        now: OffsetDateTime,
    ) -> QueryResult<i64> {
        Self::open()
            .filter(payments::expires_at.lt(now))
            .count()
            .get_result(conn)
            .await
    }
}
