//! Payments as the API shows them: with their order's status and owner.

use crate::models::payment::Payment;
use crate::schema::{orders, payments, users};
use crate::states::{OrderStatus, PaymentStatus};
use crate::values::ids::{PaymentId, UserId};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// A payment, its order's status and its owner's e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentView {
    pub payment: Payment,
    pub order_status: OrderStatus,
    pub user_email: String,
}

/// Whose payments a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Staff: everyone's.
    All,
    /// Only this user's.
    Owner(UserId),
}

impl Visibility {
    /// The rule [`find_visible`] applies in SQL, for a payment read
    /// without it (read before the caller was known).
    pub fn allows(self, payment: &Payment) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Owner(user) => payment.user_id == user,
        }
    }
}

type Row = (Payment, OrderStatus, String);

fn into_view((payment, order_status, user_email): Row) -> PaymentView {
    PaymentView {
        payment,
        order_status,
        user_email,
    }
}

/// The payment if `visibility` lets the caller see it.
pub async fn find_visible(
    conn: &AsyncPgConnection,
    id: PaymentId,
    visibility: Visibility,
) -> QueryResult<Option<PaymentView>> {
    let mut query = payments::table
        .inner_join(orders::table)
        .inner_join(users::table)
        .filter(payments::id.eq(id))
        .select((Payment::as_select(), orders::status, users::email))
        .into_boxed();
    if let Visibility::Owner(user) = visibility {
        query = query.filter(payments::user_id.eq(user));
    }
    let row = query.first::<Row>(&mut { conn }).await.optional()?;
    Ok(row.map(into_view))
}

/// A page of payments, newest first, with the total count, read in one
/// round trip (the count and the page pipelined).
pub async fn list_visible(
    conn: &AsyncPgConnection,
    visibility: Visibility,
    statuses: Option<&[PaymentStatus]>,
    offset: i64,
    limit: i64,
) -> QueryResult<(i64, Vec<PaymentView>)> {
    // Every payment has exactly one order and one owner (NOT NULL foreign
    // keys), so the count needs no join: PostgreSQL would otherwise read
    // the orders to count payments.
    let mut counted = payments::table.into_boxed();
    let mut listed = payments::table
        .inner_join(orders::table)
        .inner_join(users::table)
        .into_boxed();
    if let Visibility::Owner(user) = visibility {
        counted = counted.filter(payments::user_id.eq(user));
        listed = listed.filter(payments::user_id.eq(user));
    }
    if let Some(statuses) = statuses {
        counted = counted.filter(payments::status.eq_any(statuses.to_vec()));
        listed = listed.filter(payments::status.eq_any(statuses.to_vec()));
    }
    let count = counted.count().get_result::<i64>(&mut { conn });
    let rows = listed
        .order((payments::created_at.desc(), payments::id.asc()))
        .offset(offset)
        .limit(limit)
        .select((Payment::as_select(), orders::status, users::email))
        .load::<Row>(&mut { conn });
    let (count, rows) = futures::try_join!(count, rows)?;
    Ok((count, rows.into_iter().map(into_view).collect()))
}
