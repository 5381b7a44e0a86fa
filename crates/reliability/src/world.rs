//! The cast of a run: customers and a staff member with API tokens, one
//! product with little stock (so checkouts contend for it) and a coupon
//! with few uses (so redemptions contend too).

use diesel_async::AsyncPgConnection;
use domain::models::user::insert_api_token;
use domain::testing::{seed_coupon, seed_product, seed_user};

pub const COUPON_CODE: &str = "RELIABLE10";

#[derive(Debug, Clone)]
pub struct World {
    /// API tokens of the customers, by index.
    pub customers: Vec<String>,
    pub staff: String,
    pub product: i64,
    pub units: i32,
}

impl World {
    pub async fn seed(
        conn: &mut AsyncPgConnection,
        customers: usize,
        units: i32,
        coupon_uses: i32,
    ) -> Self {
        let mut tokens = Vec::with_capacity(customers);
        for i in 0..customers {
            let user = seed_user(conn, &format!("customer{i}@example.com"), false).await;
            tokens.push(token(conn, user).await);
        }
        let staff_user = seed_user(conn, "staff@example.com", true).await;
        let staff = token(conn, staff_user).await;
        let product = seed_product(conn, "SKU-RELIABLE", 1250, units).await;
        seed_coupon(conn, COUPON_CODE, 10, Some(coupon_uses)).await;
        Self {
            customers: tokens,
            staff,
            product: product.0,
            units,
        }
    }

    /// The token of customer `i` (wrapping around).
    pub fn customer(&self, i: usize) -> &str {
        &self.customers[i % self.customers.len()]
    }
}

async fn token(conn: &mut AsyncPgConnection, user: domain::UserId) -> String {
    let key = format!("tok_{}", uuid::Uuid::new_v4().simple());
    insert_api_token(conn, user, &key)
        .await
        .expect("insert API token");
    key
}
