//! `Stripe-Signature` verification.

use stripe_client::webhook::{self, WebhookError};
use time::OffsetDateTime;

const SECRET: &str = "whsec_test_secret";
const PAYLOAD: &[u8] = br#"{"id":"evt_1","object":"event","type":"checkout.session.expired"}"#;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn t(offset: i64) -> i64 {
    now().unix_timestamp() + offset
}

#[test]
fn a_valid_signature_verifies() {
    let header = webhook::sign(PAYLOAD, SECRET, t(0));
    assert_eq!(webhook::verify(PAYLOAD, &header, SECRET, now()), Ok(()));
}

#[test]
fn a_tampered_payload_is_rejected() {
    let header = webhook::sign(PAYLOAD, SECRET, t(0));
    let tampered = br#"{"id":"evt_2","object":"event","type":"checkout.session.expired"}"#;
    assert_eq!(
        webhook::verify(tampered, &header, SECRET, now()),
        Err(WebhookError::SignatureMismatch)
    );
}

#[test]
fn a_wrong_secret_is_rejected() {
    let header = webhook::sign(PAYLOAD, "whsec_other", t(0));
    assert_eq!(
        webhook::verify(PAYLOAD, &header, SECRET, now()),
        Err(WebhookError::SignatureMismatch)
    );
}

#[test]
fn a_signature_for_another_timestamp_is_rejected() {
    let signature = webhook::compute_signature(PAYLOAD, SECRET, t(0));
    let header = format!("t={},v1={signature}", t(1));
    assert_eq!(
        webhook::verify(PAYLOAD, &header, SECRET, now()),
        Err(WebhookError::SignatureMismatch)
    );
}

#[test]
fn a_stale_timestamp_is_rejected_after_300_seconds() {
    let fresh = webhook::sign(PAYLOAD, SECRET, t(-300));
    assert_eq!(webhook::verify(PAYLOAD, &fresh, SECRET, now()), Ok(()));
    let stale = webhook::sign(PAYLOAD, SECRET, t(-301));
    assert_eq!(
        webhook::verify(PAYLOAD, &stale, SECRET, now()),
        Err(WebhookError::TimestampOutsideTolerance {
            timestamp: t(-301),
            now: t(0)
        })
    );
}

#[test]
fn a_timestamp_too_far_in_the_future_is_rejected() {
    let ahead = webhook::sign(PAYLOAD, SECRET, t(300));
    assert_eq!(webhook::verify(PAYLOAD, &ahead, SECRET, now()), Ok(()));
    let future = webhook::sign(PAYLOAD, SECRET, t(301));
    assert!(matches!(
        webhook::verify(PAYLOAD, &future, SECRET, now()),
        Err(WebhookError::TimestampOutsideTolerance { .. })
    ));
}

#[test]
fn the_tolerance_is_configurable() {
    let header = webhook::sign(PAYLOAD, SECRET, t(-10));
    let tight = std::time::Duration::from_secs(5);
    assert!(webhook::verify_with_tolerance(PAYLOAD, &header, SECRET, now(), tight).is_err());
    let loose = std::time::Duration::from_secs(10);
    assert_eq!(
        webhook::verify_with_tolerance(PAYLOAD, &header, SECRET, now(), loose),
        Ok(())
    );
}

#[test]
fn several_v1_signatures_pass_when_one_matches() {
    let good = webhook::compute_signature(PAYLOAD, SECRET, t(0));
    let old_secret = webhook::compute_signature(PAYLOAD, "whsec_rolled_away", t(0));
    let header = format!("t={},v1={old_secret},v1={good}", t(0));
    assert_eq!(webhook::verify(PAYLOAD, &header, SECRET, now()), Ok(()));
    let none_match = format!("t={},v1={old_secret},v1={old_secret}", t(0));
    assert_eq!(
        webhook::verify(PAYLOAD, &none_match, SECRET, now()),
        Err(WebhookError::SignatureMismatch)
    );
}

#[test]
fn unknown_schemes_are_ignored() {
    let good = webhook::compute_signature(PAYLOAD, SECRET, t(0));
    let header = format!("v0=deadbeef, t={}, x=y, v1={good}, v2=abc", t(0));
    assert_eq!(webhook::verify(PAYLOAD, &header, SECRET, now()), Ok(()));
    // A correct signature under an unknown scheme does not count.
    let only_v0 = format!("t={},v0={good}", t(0));
    assert_eq!(
        webhook::verify(PAYLOAD, &only_v0, SECRET, now()),
        Err(WebhookError::NoSignature)
    );
}

#[test]
fn garbage_headers_are_rejected() {
    for header in [
        "",
        "garbage",
        "t=",
        "t=now,v1=00",
        "v1=00ff",
        "t=1,t=2,v1=00",
    ] {
        let result = webhook::verify(PAYLOAD, header, SECRET, now());
        assert!(
            matches!(result, Err(WebhookError::MalformedHeader(_))),
            "{header:?}: {result:?}"
        );
    }
    let not_hex = format!("t={},v1=zzzz", t(0));
    assert_eq!(
        webhook::verify(PAYLOAD, &not_hex, SECRET, now()),
        Err(WebhookError::SignatureMismatch)
    );
}

#[test]
fn the_emulators_signatures_verify() {
    let header = stripe_emulator::sign(PAYLOAD, SECRET, t(0));
    assert_eq!(webhook::verify(PAYLOAD, &header, SECRET, now()), Ok(()));
}
