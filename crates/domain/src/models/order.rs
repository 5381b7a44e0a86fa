//! Orders and their lines.

use crate::schema::{order_items, orders, payments};
use crate::states::OrderStatus;
use crate::values::ids::{CouponId, OrderId, PaymentId, ProductId, UserId};
use crate::values::money::Currency;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = orders, check_for_backend(diesel::pg::Pg))]
pub struct Order {
    pub id: OrderId,
    pub user_id: UserId,
    pub status: OrderStatus,
    pub coupon_id: Option<CouponId>,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub total_minor: i64,
    pub currency: Currency,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_items, check_for_backend(diesel::pg::Pg))]
pub struct OrderItem {
    pub order_id: OrderId,
    pub product_id: ProductId,
    pub quantity: i32,
    pub unit_price_minor: i64,
}

impl Order {
    pub async fn find(conn: &mut AsyncPgConnection, id: OrderId) -> QueryResult<Option<Self>> {
        orders::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The lines of a payment's order, by product (the lock order of
    /// stock rows). Lines never change, so no lock is needed to read them.
    pub async fn items_of_payment(
        conn: &AsyncPgConnection,
        payment: PaymentId,
    ) -> QueryResult<Vec<OrderItem>> {
        let order = payments::table.find(payment).select(payments::order_id);
        order_items::table
            .filter(order_items::order_id.eq_any(order))
            .order(order_items::product_id.asc())
            .select(OrderItem::as_select())
            .load(&mut { conn })
            .await
    }

    pub async fn insert(
        conn: &mut AsyncPgConnection,
        order: &Order,
        items: &[OrderItem],
    ) -> QueryResult<()> {
        diesel::insert_into(orders::table)
            .values(order)
            .execute(conn)
            .await?;
        diesel::insert_into(order_items::table)
            .values(items)
            .execute(conn)
            .await
            .map(drop)
    }
}
