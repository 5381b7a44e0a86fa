//! What the fuzz target `emulator_form` checks, as a plain function: the
//! cargo-fuzz target calls it with libFuzzer's inputs, and
//! `crates/stripe-emulator/tests/fuzz_corpus.rs` with every committed
//! corpus file.

use stripe_emulator::form::{
    CancelIntentForm, CreateRefundForm, CreateSessionForm, ExpandForm, ListSessionsQuery, parse,
};

/// Every form the emulator decodes, from any bytes: a value or Stripe's
/// 400, never a panic.
pub fn form(data: &[u8]) {
    let session = parse::<CreateSessionForm>(data);
    let _ = parse::<ListSessionsQuery>(data);
    let _ = parse::<CreateRefundForm>(data);
    let _ = parse::<ExpandForm>(data);
    let _ = parse::<CancelIntentForm>(data);
    if std::str::from_utf8(data).is_err() {
        assert!(session.is_err(), "non-UTF-8 is refused");
    }
    if let Ok(range) = parse::<ListSessionsQuery>(data).map(|q| q.created) {
        if let Some(range) = range {
            // Bounds compare without overflow at the extremes.
            let _ = range.contains(i64::MIN) || range.contains(i64::MAX);
        }
    }
}
