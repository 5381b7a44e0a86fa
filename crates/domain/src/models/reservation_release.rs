//! The release ledger (`reservation_releases`): one row per resource of an
//! order given back. A release is one statement that claims the ledger row
//! and, only if the claim is new, gives the units back — so "exactly once"
//! holds in the database whatever the caller's locks, and a cancel can
//! send every release of an order in one round trip (pipelined).

use crate::values::ids::{CouponId, OrderId, ProductId};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Integer, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::marker::PhantomData;

/// What a ledger row gives back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `quantity` units of a product's stock.
    Stock(ProductId),
    /// One use of a coupon.
    Coupon(CouponId),
}

impl Resource {
    /// The ledger's key for it (`stock:<id>` / `coupon:<id>`).
    fn key(self) -> String {
        match self {
            Resource::Stock(id) => format!("stock:{id}"),
            Resource::Coupon(id) => format!("coupon:{id}"),
        }
    }
}

/// `WITH claim AS (INSERT … ON CONFLICT DO NOTHING RETURNING quantity)
/// UPDATE <stock or coupon> … FROM claim`: the update joins the claim, so
/// a second release of the same resource changes nothing. A hand-built
/// statement (diesel has no data-modifying CTE) with a static query id per
/// target table, so it is prepared once per connection like the rest.
#[derive(Debug, Clone, QueryId)]
struct ClaimAndRelease<T> {
    order: uuid::Uuid,
    key: String,
    quantity: i32,
    target: i64,
    table: PhantomData<T>,
}

/// The update half of a release, per target table.
trait ReleaseTarget {
    const UPDATE: &'static str;
}

#[derive(Debug, Clone, Copy, QueryId)]
struct StockRow;

impl ReleaseTarget for StockRow {
    const UPDATE: &'static str = "UPDATE inventory_stock \
        SET units_sold = inventory_stock.units_sold - claim.quantity, updated_at = CURRENT_TIMESTAMP \
        FROM claim WHERE inventory_stock.product_id = ";
}

#[derive(Debug, Clone, Copy, QueryId)]
struct CouponRow;

impl ReleaseTarget for CouponRow {
    const UPDATE: &'static str = "UPDATE coupons SET times_used = coupons.times_used - claim.quantity \
        FROM claim WHERE coupons.id = ";
}

impl<T: ReleaseTarget> QueryFragment<Pg> for ClaimAndRelease<T> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "WITH claim AS (INSERT INTO reservation_releases (order_id, resource, quantity) VALUES (",
        );
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.order)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.key)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&self.quantity)?;
        out.push_sql(") ON CONFLICT DO NOTHING RETURNING quantity) ");
        out.push_sql(T::UPDATE);
        out.push_bind_param::<BigInt, _>(&self.target)?;
        Ok(())
    }
}

impl<T> ClaimAndRelease<T>
where
    Self: QueryFragment<Pg> + QueryId + Send,
{
    fn new(order: OrderId, resource: Resource, quantity: i32, target: i64) -> Self {
        Self {
            order: order.0,
            key: resource.key(),
            quantity,
            target,
            table: PhantomData,
        }
    }

    async fn run(self, conn: &AsyncPgConnection) -> QueryResult<bool> {
        let mut conn = conn;
        Ok(self.execute(&mut conn).await? == 1)
    }
}

/// Gives `resource` of `order` back unless the ledger already has it;
/// `true` if this call released it. The stock and coupon CHECKs turn a
/// release that would go negative into an error, never a bad count.
pub async fn release(
    conn: &AsyncPgConnection,
    order: OrderId,
    resource: Resource,
    quantity: i32,
) -> QueryResult<bool> {
    match resource {
        Resource::Stock(id) => {
            let statement = ClaimAndRelease::<StockRow>::new(order, resource, quantity, id.0);
            statement.run(conn).await
        }
        Resource::Coupon(id) => {
            let statement = ClaimAndRelease::<CouponRow>::new(order, resource, quantity, id.0);
            statement.run(conn).await
        }
    }
}
