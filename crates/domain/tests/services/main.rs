//! The domain services against a real PostgreSQL, one database per test.

mod atomicity;
mod cancel;
mod checkout;
mod completion;
mod database_rules;
mod events;
mod helpers;
mod invariant_checks;
mod pool;
mod races;
mod stripe_calls;
mod sweep;
