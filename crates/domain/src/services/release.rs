//! Gives an order's reservations back — each stock line and the coupon —
//! exactly once: the release ledger's primary key refuses a second row,
//! and stock or coupon counts change only when the ledger row is new.

use crate::error::DomainError;
use crate::models::coupon;
use crate::models::order::{Order, OrderItem};
use crate::models::reservation_release::{self, Resource};
use diesel_async::AsyncPgConnection;
use futures::future::try_join_all;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReleaseSummary {
    /// (product id, units) given back by this call.
    pub stock: Vec<(i64, i32)>,
    pub coupon_released: bool,
    pub cart_coupons_cleared: usize,
}

/// Every release of `order` (its `items`, by product) and the cart's
/// coupon, sent in one round trip. PostgreSQL runs pipelined statements
/// in the order sent, so stock rows are still locked by product, then the
/// coupon, then the cart — the order checkout takes them in.
pub(crate) async fn release_reservations(
    conn: &AsyncPgConnection,
    order: &Order,
    items: &[OrderItem],
) -> Result<ReleaseSummary, DomainError> {
    let stock = try_join_all(items.iter().map(|item| {
        reservation_release::release(
            conn,
            order.id,
            Resource::Stock(item.product_id),
            item.quantity,
        )
    }));
    let coupon = async {
        match order.coupon_id {
            Some(id) => reservation_release::release(conn, order.id, Resource::Coupon(id), 1).await,
            None => Ok(false),
        }
    };
    let cart = coupon::clear_cart_coupons(conn, order.user_id);
    let (stock_released, coupon_released, cart_coupons_cleared) =
        futures::try_join!(stock, coupon, cart)?;
    Ok(ReleaseSummary {
        stock: items
            .iter()
            .zip(stock_released)
            .filter(|(_, released)| *released)
            .map(|(item, _)| (item.product_id.0, item.quantity))
            .collect(),
        coupon_released,
        cart_coupons_cleared,
    })
}
