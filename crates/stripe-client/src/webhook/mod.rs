//! Stripe webhooks: `Stripe-Signature` verification ([`verify`]), signing for
//! tests ([`sign`]) and event parsing ([`parse_event`]).
//!
//! Parsing does not verify: the API verifies once on receipt and stores the
//! raw payload; the worker re-parses stored payloads later.

mod event;
mod signature;

pub use event::{StripeEventParser, parse_event};
pub use signature::{
    DEFAULT_TOLERANCE, SignatureHeader, compute_signature, sign, verify, verify_with_tolerance,
};

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The header is not `t=<unix>,v1=<hex>[,...]`.
    #[error("malformed Stripe-Signature header: {0}")]
    MalformedHeader(&'static str),
    /// The header carries no `v1` signature.
    #[error("Stripe-Signature has no v1 signature")]
    NoSignature,
    /// No `v1` signature matches the payload and secret.
    #[error("no Stripe-Signature v1 signature matches the payload")]
    SignatureMismatch,
    /// Signed too long ago (replay) or too far in the future.
    #[error("Stripe-Signature timestamp {timestamp} is outside the tolerance (now {now})")]
    TimestampOutsideTolerance { timestamp: i64, now: i64 },
    /// The payload is not a Stripe event we can read.
    #[error("cannot parse the Stripe event: {0}")]
    Parse(String),
}
