//! What the fuzz targets `stripe_signature` and `stripe_event` check, as
//! plain functions: the cargo-fuzz targets call them with libFuzzer's
//! inputs, and `crates/stripe-client/tests/fuzz_corpus.rs` calls them with
//! every committed corpus file (so `cargo test` replays the corpus).

use std::time::Duration;
use stripe_client::webhook::{
    DEFAULT_TOLERANCE, SignatureHeader, StripeEventParser, WebhookError, parse_event, sign,
    verify_with_tolerance,
};
use time::OffsetDateTime;

pub const SECRET: &str = "whsec_fuzz";
/// A fixed "now", so a run is reproducible.
pub const NOW: i64 = 1_700_000_000;

/// Input layout: the `Stripe-Signature` header, a newline, the payload.
/// The API reads the header with `to_str()`, so a non-UTF-8 header
/// arrives as the empty string.
pub fn split(data: &[u8]) -> (&str, &[u8]) {
    let (header, payload) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    (std::str::from_utf8(header).unwrap_or_default(), payload)
}

/// Parsing and verifying never panic; a header that verifies parses and
/// is within the tolerance; whatever the payload, its own fresh
/// signature verifies and a stale one does not.
pub fn signature(data: &[u8]) {
    let (header, payload) = split(data);
    let now = OffsetDateTime::from_unix_timestamp(NOW).expect("valid now");
    let parsed = SignatureHeader::parse(header);
    let verified = verify_with_tolerance(payload, header, SECRET, now, DEFAULT_TOLERANCE);
    if verified.is_ok() {
        let parsed = parsed.expect("a verified header parses");
        assert!(parsed.timestamp.abs_diff(NOW) <= DEFAULT_TOLERANCE.as_secs());
    }
    // The timestamp the header claims, when it has one, as a signing time.
    let at = SignatureHeader::parse(header).map_or(NOW, |h| h.timestamp);
    let fresh = sign(payload, SECRET, at);
    let result = verify_with_tolerance(payload, &fresh, SECRET, now, DEFAULT_TOLERANCE);
    if at.abs_diff(NOW) <= DEFAULT_TOLERANCE.as_secs() {
        assert_eq!(result, Ok(()), "own signature of {payload:?} at {at}");
    } else {
        assert!(
            matches!(result, Err(WebhookError::TimestampOutsideTolerance { .. })),
            "{result:?}"
        );
    }
    // Another secret never verifies.
    let forged = sign(payload, "whsec_other", NOW);
    assert_eq!(
        verify_with_tolerance(payload, &forged, SECRET, now, Duration::from_secs(300)),
        Err(WebhookError::SignatureMismatch)
    );
}

/// Event parsing never panics, and the worker's parser agrees with it.
pub fn event(data: &[u8]) {
    let direct = parse_event(data);
    let through = domain::services::EventParser::parse(&StripeEventParser, data);
    assert_eq!(direct.is_ok(), through.is_ok());
    // The event is what the API stored it under. (`parse_event` skips the
    // fields it ignores without checking their UTF-8, so it may accept
    // bytes that are not a JSON document; the API never stores those: it
    // reads every payload as a `serde_json::Value` first.)
    if let (Ok(event), Ok(value)) = (direct, serde_json::from_slice::<serde_json::Value>(data)) {
        assert_eq!(value["id"].as_str(), Some(event.id.as_str()));
        assert_eq!(value["type"].as_str(), Some(event.event_type.as_str()));
    }
}
