//! Read models for the API: joined views over payments, statistics and a
//! payment's timeline. Read-only; every write goes through `services`.

pub mod payments;
pub mod stats;
pub mod timeline;
