//! Gives an order's reservations back — each stock line and the coupon —
//! exactly once: the release ledger's primary key refuses a second row,
//! and stock or coupon counts change only when the ledger row is new.

use crate::error::DomainError;
use crate::models::coupon::{self, Coupon};
use crate::models::order::Order;
use crate::models::product::Stock;
use crate::schema::reservation_releases;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReleaseSummary {
    /// (product id, units) given back by this call.
    pub stock: Vec<(i64, i32)>,
    pub coupon_released: bool,
    pub cart_coupons_cleared: usize,
}

async fn claim(
    conn: &mut AsyncPgConnection,
    order: &Order,
    resource: String,
    quantity: i32,
) -> Result<bool, DomainError> {
    let inserted = diesel::insert_into(reservation_releases::table)
        .values((
            reservation_releases::order_id.eq(order.id),
            reservation_releases::resource.eq(resource),
            reservation_releases::quantity.eq(quantity),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

pub(crate) async fn release_reservations(
    conn: &mut AsyncPgConnection,
    order: &Order,
) -> Result<ReleaseSummary, DomainError> {
    let mut summary = ReleaseSummary::default();
    for item in order.items(conn).await? {
        if claim(
            conn,
            order,
            format!("stock:{}", item.product_id),
            item.quantity,
        )
        .await?
        {
            Stock::release(conn, item.product_id, item.quantity).await?;
            summary.stock.push((item.product_id.0, item.quantity));
        }
    }
    if let Some(coupon_id) = order.coupon_id
        && claim(conn, order, format!("coupon:{coupon_id}"), 1).await?
    {
        Coupon::release(conn, coupon_id).await?;
        summary.coupon_released = true;
    }
    summary.cart_coupons_cleared = coupon::clear_cart_coupons(conn, order.user_id).await?;
    Ok(summary)
}
