//! `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...][,v0=...]`, where each
//! `v1` is HMAC-SHA256(secret, "{t}.{payload}"). Several `v1` appear while a
//! secret is being rolled; any one matching is enough. Other schemes are
//! ignored.

use super::WebhookError;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::time::Duration;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

/// Stripe's SDKs accept a signature up to 5 minutes old.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The parts of a `Stripe-Signature` header we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub timestamp: i64,
    /// Decoded `v1` signatures; entries that are not hex are dropped.
    pub v1: Vec<Vec<u8>>,
}

impl SignatureHeader {
    pub fn parse(header: &str) -> Result<Self, WebhookError> {
        let mut timestamp = None;
        let mut v1 = Vec::new();
        let mut saw_v1 = false;
        for item in header.split(',') {
            let (key, value) = item
                .split_once('=')
                .ok_or(WebhookError::MalformedHeader("expected key=value pairs"))?;
            match key.trim() {
                "t" => {
                    let t = value
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| WebhookError::MalformedHeader("t is not a unix timestamp"))?;
                    if timestamp.replace(t).is_some() {
                        return Err(WebhookError::MalformedHeader("t appears twice"));
                    }
                }
                "v1" => {
                    saw_v1 = true;
                    if let Ok(bytes) = hex::decode(value.trim()) {
                        v1.push(bytes);
                    }
                }
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(WebhookError::MalformedHeader("no t= timestamp"))?;
        if !saw_v1 {
            return Err(WebhookError::NoSignature);
        }
        Ok(Self { timestamp, v1 })
    }
}

fn mac(payload: &[u8], secret: &str, timestamp: i64) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac.finalize().into_bytes().to_vec()
}

/// The hex `v1` signature of `payload` signed at `timestamp`.
pub fn compute_signature(payload: &[u8], secret: &str, timestamp: i64) -> String {
    hex::encode(mac(payload, secret, timestamp))
}

/// A complete `Stripe-Signature` header value for `payload`, as Stripe sends it.
pub fn sign(payload: &[u8], secret: &str, timestamp: i64) -> String {
    format!(
        "t={timestamp},v1={}",
        compute_signature(payload, secret, timestamp)
    )
}

/// Verifies with Stripe's 300 s tolerance.
pub fn verify(
    payload: &[u8],
    signature_header: &str,
    secret: &str,
    now: OffsetDateTime,
) -> Result<(), WebhookError> {
    verify_with_tolerance(payload, signature_header, secret, now, DEFAULT_TOLERANCE)
}

/// Verifies that one `v1` matches (compared in constant time) and that the
/// timestamp is within `tolerance` of `now`, in the past or the future.
pub fn verify_with_tolerance(
    payload: &[u8],
    signature_header: &str,
    secret: &str,
    now: OffsetDateTime,
    tolerance: Duration,
) -> Result<(), WebhookError> {
    let header = SignatureHeader::parse(signature_header)?;
    let expected = mac(payload, secret, header.timestamp);
    // Compare against every candidate, without stopping early.
    let matched = header
        .v1
        .iter()
        .fold(subtle::Choice::from(0), |found, candidate| {
            found | expected.ct_eq(candidate)
        });
    if !bool::from(matched) {
        return Err(WebhookError::SignatureMismatch);
    }
    let now = now.unix_timestamp();
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if now.abs_diff(header.timestamp) > tolerance.unsigned_abs() {
        return Err(WebhookError::TimestampOutsideTolerance {
            timestamp: header.timestamp,
            now,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_an_independent_hmac() {
        // HMAC-SHA256(b"whsec_test", b"1700000000.{}") from Python's hmac module.
        assert_eq!(
            compute_signature(b"{}", "whsec_test", 1_700_000_000),
            "35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
        assert_eq!(
            sign(b"{}", "whsec_test", 1_700_000_000),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }

    #[test]
    fn header_parsing_keeps_every_v1_and_ignores_other_schemes() {
        let h = SignatureHeader::parse("t=12,v1=00ff,v0=abcd,v1=zz,v1=01").unwrap();
        assert_eq!(h.timestamp, 12);
        assert_eq!(h.v1, vec![vec![0x00, 0xff], vec![0x01]]);
        assert_eq!(
            SignatureHeader::parse("v1=00"),
            Err(WebhookError::MalformedHeader("no t= timestamp"))
        );
        assert_eq!(
            SignatureHeader::parse("t=1,v0=00"),
            Err(WebhookError::NoSignature)
        );
        assert!(SignatureHeader::parse("garbage").is_err());
        assert!(SignatureHeader::parse("t=abc,v1=00").is_err());
        assert!(SignatureHeader::parse("t=1,t=2,v1=00").is_err());
    }
}
