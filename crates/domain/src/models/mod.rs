//! One module per table: the row type and its queries.

pub mod coupon;
pub mod idempotency;
pub mod login_session;
pub mod order;
pub mod payment;
pub mod product;
pub mod rate_limit;
pub mod reservation_release;
pub mod stripe_call;
pub mod stripe_event;
pub mod sweep_run;
pub mod task;
pub mod user;
