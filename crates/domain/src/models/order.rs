//! Orders and their lines.

use crate::schema::{order_items, orders};
use crate::states::OrderStatus;
use crate::values::ids::{CouponId, OrderId, ProductId, UserId};
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

    /// Reads the order under a row lock; always taken after the payment's
    /// lock so concurrent writers cannot deadlock.
    pub async fn lock(conn: &mut AsyncPgConnection, id: OrderId) -> QueryResult<Self> {
        orders::table
            .find(id)
            .select(Self::as_select())
            .for_update()
            .first(conn)
            .await
    }

    /// Lines ordered by product, the order in which stock rows are locked.
    pub async fn items(&self, conn: &mut AsyncPgConnection) -> QueryResult<Vec<OrderItem>> {
        order_items::table
            .filter(order_items::order_id.eq(self.id))
            .order(order_items::product_id.asc())
            .select(OrderItem::as_select())
            .load(conn)
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
