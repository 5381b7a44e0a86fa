//! Test support shared by every crate's tests (feature `testing`): a fresh
//! migrated database per test, an in-process Stripe, fixtures, and the
//! invariant checks of SPEC §4 as SQL, the JSON log shape.

mod database;
mod fake_stripe;
mod fixtures;
mod json_logs;

pub use crate::invariants::{InvariantReport, check_invariants};
pub use database::TestDatabase;
pub use fake_stripe::FakeStripe;
pub use fixtures::{Fixtures, seed_coupon, seed_product, seed_user};
pub use json_logs::flat_json_lines;
