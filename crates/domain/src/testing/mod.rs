//! Test support shared by every crate's tests (feature `testing`): a fresh
//! migrated database per test, an in-process Stripe, fixtures, and the
//! invariant checks of SPEC §4 as SQL.

mod database;
mod fake_stripe;
mod fixtures;

pub use crate::invariants::{InvariantReport, check_invariants};
pub use database::TestDatabase;
pub use fake_stripe::FakeStripe;
pub use fixtures::{Fixtures, seed_coupon, seed_product, seed_user};
