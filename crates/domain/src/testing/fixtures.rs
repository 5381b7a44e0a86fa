//! Small builders for test data.

use crate::models::user::User;
use crate::schema::{coupons, inventory_stock, products};
use crate::values::email::Email;
use crate::values::ids::{CouponId, ProductId, UserId};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

pub async fn seed_user(conn: &mut AsyncPgConnection, email: &str, is_staff: bool) -> UserId {
    let email = Email::parse(email).expect("valid test e-mail");
    User::upsert(conn, &email, "not-a-real-hash", is_staff)
        .await
        .expect("insert user")
        .id
}

pub async fn seed_product(
    conn: &mut AsyncPgConnection,
    sku: &str,
    price_minor: i64,
    units: i32,
) -> ProductId {
    let id: ProductId = diesel::insert_into(products::table)
        .values((
            products::sku.eq(sku),
            products::name.eq(format!("Product {sku}")),
            products::price_minor.eq(price_minor),
            products::currency.eq("USD"),
        ))
        .returning(products::id)
        .get_result(conn)
        .await
        .expect("insert product");
    diesel::insert_into(inventory_stock::table)
        .values((
            inventory_stock::product_id.eq(id),
            inventory_stock::units.eq(units),
        ))
        .execute(conn)
        .await
        .expect("insert stock");
    id
}

pub async fn seed_coupon(
    conn: &mut AsyncPgConnection,
    code: &str,
    percent_off: i16,
    max_uses: Option<i32>,
) -> CouponId {
    diesel::insert_into(coupons::table)
        .values((
            coupons::code.eq(code),
            coupons::percent_off.eq(percent_off),
            coupons::max_uses.eq(max_uses),
        ))
        .returning(coupons::id)
        .get_result(conn)
        .await
        .expect("insert coupon")
}

/// A user, a product and a coupon, the usual cast of a test.
pub struct Fixtures {
    pub user: UserId,
    pub product: ProductId,
    pub coupon: CouponId,
}

impl Fixtures {
    pub async fn seed(conn: &mut AsyncPgConnection, units: i32) -> Self {
        Self {
            user: seed_user(conn, "ana@example.com", false).await,
            product: seed_product(conn, "SKU-1", 1000, units).await,
            coupon: seed_coupon(conn, "WELCOME10", 10, None).await,
        }
    }
}
