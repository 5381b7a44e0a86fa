//! One module per table: the row type and its queries.

pub mod coupon;
pub mod order;
pub mod payment;
pub mod product;
pub mod user;
