//! What the fuzz target `emulator_form` checks, as a plain function: the
//! cargo-fuzz target calls it with libFuzzer's inputs, and
//! `crates/stripe-emulator/tests/fuzz_corpus.rs` with every committed
//! corpus file.

use stripe_emulator::form::{
    CancelIntentForm, CreateRefundForm, CreateSessionForm, ExpandForm, ListSessionsQuery, parse,
};

/// Every form the emulator decodes, from any bytes: a value or Stripe's
/// 400, never a panic; bytes that are not UTF-8 are always refused.
pub fn form(data: &[u8]) {
    let results = [
        parse::<CreateSessionForm>(data).is_ok(),
        parse::<ListSessionsQuery>(data).is_ok(),
        parse::<CreateRefundForm>(data).is_ok(),
        parse::<ExpandForm>(data).is_ok(),
        parse::<CancelIntentForm>(data).is_ok(),
    ];
    if std::str::from_utf8(data).is_err() {
        assert_eq!(results, [false; 5], "non-UTF-8 is refused");
    }
    // A list filter compares at the extremes without overflowing.
    if let Ok(ListSessionsQuery {
        created: Some(range),
        ..
    }) = parse::<ListSessionsQuery>(data)
    {
        let _ = (range.contains(i64::MIN), range.contains(i64::MAX));
    }
}
