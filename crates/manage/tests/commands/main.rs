//! Commands called as functions against a fresh migrated database each
//! (`domain::testing::TestDatabase`).

mod create_token;
mod create_user;
mod seed_bench;
mod seed_demo;
mod wait_for;
