//! Products and their stock.

use crate::schema::{inventory_stock, products};
use crate::values::ids::ProductId;
use crate::values::money::{Currency, Money};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = products, check_for_backend(diesel::pg::Pg))]
pub struct Product {
    pub id: ProductId,
    pub sku: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: Currency,
    pub is_active: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = inventory_stock, check_for_backend(diesel::pg::Pg))]
pub struct Stock {
    pub product_id: ProductId,
    pub units: i32,
    pub units_sold: i32,
}

impl Stock {
    pub fn available(&self) -> i32 {
        self.units - self.units_sold
    }
}

impl Product {
    pub fn price(&self) -> Money {
        Money::new(self.price_minor, self.currency)
    }

    pub async fn find_active(
        conn: &mut AsyncPgConnection,
        ids: &[ProductId],
    ) -> QueryResult<Vec<Self>> {
        products::table
            .filter(products::id.eq_any(ids))
            .filter(products::is_active.eq(true))
            .select(Self::as_select())
            .load(conn)
            .await
    }

    /// Active products with their stock, for the catalogue.
    pub async fn list_with_stock(
        conn: &mut AsyncPgConnection,
        offset: i64,
        limit: i64,
    ) -> QueryResult<(i64, Vec<(Product, Stock)>)> {
        let active = products::table.filter(products::is_active.eq(true));
        let count = active.count().get_result(conn).await?;
        let rows = active
            .inner_join(inventory_stock::table)
            .order(products::id.asc())
            .offset(offset)
            .limit(limit)
            .select((Self::as_select(), Stock::as_select()))
            .load(conn)
            .await?;
        Ok((count, rows))
    }
}

impl Stock {
    pub async fn find(
        conn: &mut AsyncPgConnection,
        product: ProductId,
    ) -> QueryResult<Option<Self>> {
        inventory_stock::table
            .find(product)
            .select(Self::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Takes `quantity` units if that many are available; `false` otherwise.
    /// The conditional update holds the row lock, so concurrent checkouts
    /// can never oversell.
    pub async fn reserve(
        conn: &mut AsyncPgConnection,
        product: ProductId,
        quantity: i32,
    ) -> QueryResult<bool> {
        let updated = diesel::update(
            inventory_stock::table
                .find(product)
                .filter((inventory_stock::units - inventory_stock::units_sold).ge(quantity)),
        )
        .set((
            inventory_stock::units_sold.eq(inventory_stock::units_sold + quantity),
            inventory_stock::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
        Ok(updated == 1)
    }
}
