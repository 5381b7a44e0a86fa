//! Coupons and the coupon a user has in their cart.

use crate::schema::{carts, coupons};
use crate::values::ids::{CouponId, UserId};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = coupons, check_for_backend(diesel::pg::Pg))]
pub struct Coupon {
    pub id: CouponId,
    pub code: String,
    pub percent_off: i16,
    pub max_uses: Option<i32>,
    pub times_used: i32,
}

impl Coupon {
    /// Uses the coupon once if it is active, unexpired and not exhausted.
    pub async fn redeem(conn: &mut AsyncPgConnection, code: &str) -> QueryResult<Option<Self>> {
        diesel::update(
            coupons::table
                .filter(coupons::code.eq(code))
                .filter(coupons::is_active.eq(true))
                .filter(
                    coupons::max_uses
                        .is_null()
                        .or(coupons::times_used.nullable().lt(coupons::max_uses)),
                )
                .filter(
                    coupons::valid_until
                        .is_null()
                        .or(coupons::valid_until.gt(time::OffsetDateTime::now_utc())),
                ),
        )
        .set(coupons::times_used.eq(coupons::times_used + 1))
        .returning(Self::as_returning())
        .get_result(conn)
        .await
        .optional()
    }
}

/// Puts `coupon` in the user's cart (checkout applies what the cart holds).
pub async fn put_in_cart(
    conn: &mut AsyncPgConnection,
    user: UserId,
    coupon: CouponId,
) -> QueryResult<()> {
    diesel::insert_into(carts::table)
        .values((carts::user_id.eq(user), carts::coupon_id.eq(Some(coupon))))
        .on_conflict(carts::user_id)
        .do_update()
        .set((
            carts::coupon_id.eq(Some(coupon)),
            carts::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Clears every coupon from the user's cart.
pub async fn clear_cart_coupons(conn: &AsyncPgConnection, user: UserId) -> QueryResult<usize> {
    diesel::update(
        carts::table
            .filter(carts::user_id.eq(user))
            .filter(carts::coupon_id.is_not_null()),
    )
    .set((
        carts::coupon_id.eq(None::<CouponId>),
        carts::updated_at.eq(diesel::dsl::now),
    ))
    .execute(&mut { conn })
    .await
}
