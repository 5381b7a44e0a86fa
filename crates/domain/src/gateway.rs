//! The Stripe side, as the domain needs it. Implemented over HTTP by the
//! `stripe-client` crate; tests use an in-process implementation.
//!
//! Every mutating call carries a [`StripeIdempotencyKey`] derived from
//! (payment, action), so a retry — by the client, a job or the sweep — can
//! never act twice in Stripe.

use crate::values::ids::{OrderId, PaymentId};
use crate::values::money::Currency;
use async_trait::async_trait;
use std::fmt;
use std::time::Duration;
use time::OffsetDateTime;

/// `status` of a Checkout Session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
    /// A value this build does not know (Stripe adds values over time).
    Other(String),
}

impl SessionStatus {
    pub fn as_str(&self) -> &str {
        match self {
            SessionStatus::Open => "open",
            SessionStatus::Complete => "complete",
            SessionStatus::Expired => "expired",
            SessionStatus::Other(s) => s,
        }
    }

    pub fn parse(raw: &str) -> Self {
        match raw {
            "open" => SessionStatus::Open,
            "complete" => SessionStatus::Complete,
            "expired" => SessionStatus::Expired,
            other => SessionStatus::Other(other.to_owned()),
        }
    }
}

/// `payment_status` of a Checkout Session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionPaymentStatus {
    Paid,
    Unpaid,
    NoPaymentRequired,
    Other(String),
}

impl SessionPaymentStatus {
    pub fn as_str(&self) -> &str {
        match self {
            SessionPaymentStatus::Paid => "paid",
            SessionPaymentStatus::Unpaid => "unpaid",
            SessionPaymentStatus::NoPaymentRequired => "no_payment_required",
            SessionPaymentStatus::Other(s) => s,
        }
    }

    pub fn parse(raw: &str) -> Self {
        match raw {
            "paid" => SessionPaymentStatus::Paid,
            "unpaid" => SessionPaymentStatus::Unpaid,
            "no_payment_required" => SessionPaymentStatus::NoPaymentRequired,
            other => SessionPaymentStatus::Other(other.to_owned()),
        }
    }
}

/// What the service keeps of a Stripe Checkout Session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: String,
    pub status: SessionStatus,
    pub payment_status: SessionPaymentStatus,
    /// Null until the customer submits payment (Stripe API since 2022-08-01).
    pub payment_intent_id: Option<String>,
    /// Always known from Stripe's API; `None` only when a trimmed webhook
    /// payload left it out, and then the stored expiry stands.
    pub expires_at: Option<OffsetDateTime>,
    /// The hosted page; Stripe clears it once the session is no longer open.
    pub url: Option<String>,
    /// `metadata.payment_id`, when Stripe has it.
    pub payment_id: Option<PaymentId>,
}

impl CheckoutSession {
    /// Money has been taken for this session.
    pub fn is_paid(&self) -> bool {
        self.status == SessionStatus::Complete
            && matches!(
                self.payment_status,
                SessionPaymentStatus::Paid | SessionPaymentStatus::NoPaymentRequired
            )
    }
}

/// One line the customer is charged for; the lines of a session add up to
/// the payment amount exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutLine {
    pub name: String,
    pub unit_amount_minor: i64,
    pub quantity: i64,
}

/// Everything needed to open a Checkout Session (mode `payment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCheckoutSession {
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    pub currency: Currency,
    pub lines: Vec<CheckoutLine>,
    pub customer_email: Option<String>,
    pub success_url: String,
    pub cancel_url: String,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    pub id: String,
    /// Stripe's status string (`requires_payment_method`, `requires_capture`,
    /// `succeeded`, `canceled`, ...).
    pub status: String,
}

impl PaymentIntent {
    /// Stripe lets a Checkout PaymentIntent be cancelled directly only while
    /// it waits for capture; otherwise expiring the session is the way.
    pub fn is_cancelable(&self) -> bool {
        self.status == "requires_capture"
    }
}

/// What asking Stripe for a refund achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refund {
    /// Stripe refunded the money now (or, for a retried key, earlier).
    Issued(IssuedRefund),
    /// Stripe refused because the charge is already fully refunded
    /// (400 `charge_already_refunded`), e.g. from the dashboard: the money
    /// is back with the customer all the same.
    AlreadyRefunded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedRefund {
    pub id: String,
    pub status: String,
    pub amount_minor: i64,
}

/// The mutating actions the service performs in Stripe, one key each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StripeAction {
    CreateSession,
    ExpireSession,
    CancelPaymentIntent,
    Refund,
}

impl StripeAction {
    pub fn as_str(self) -> &'static str {
        match self {
            StripeAction::CreateSession => "create_session",
            StripeAction::ExpireSession => "expire_session",
            StripeAction::CancelPaymentIntent => "cancel_payment_intent",
            StripeAction::Refund => "refund",
        }
    }
}

/// A stable `Idempotency-Key`: the same (payment, action) always gives the
/// same key, so every retry of an action is the same request to Stripe.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StripeIdempotencyKey(String);

impl StripeIdempotencyKey {
    pub fn for_action(payment: PaymentId, action: StripeAction) -> Self {
        Self(format!("payment:{payment}:{}", action.as_str()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The payment the key was made for.
    pub fn payment_id(&self) -> Option<PaymentId> {
        self.0
            .strip_prefix("payment:")?
            .split(':')
            .next()?
            .parse()
            .ok()
    }
}

impl fmt::Display for StripeIdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Stripe failures, classified so callers can decide what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The object does not exist (404 `resource_missing`).
    #[error("not found in Stripe: {0}")]
    NotFound(String),
    /// Expire refused: the session is not `open` (already expired or complete).
    /// Retrieve the session to learn which.
    #[error("checkout session is not open: {0}")]
    SessionNotOpen(String),
    /// Worth retrying later: network error, timeout, 5xx, 409 lock conflict.
    #[error("Stripe is unavailable: {0}")]
    Transient(String),
    /// 429 even after the client's own retries.
    #[error("Stripe rate limit hit")]
    RateLimited { retry_after: Option<Duration> },
    /// The API key was refused (401/403).
    #[error("Stripe refused the API key: {0}")]
    Authentication(String),
    /// Any other refusal; retrying the same request will not help.
    #[error("Stripe refused the request: {0}")]
    Permanent(String),
}

/// Every name [`GatewayError::kind`] gives.
pub const ERROR_KINDS: [&str; 6] = [
    "not_found",
    "session_not_open",
    "transient",
    "rate_limited",
    "authentication",
    "permanent",
];

/// The [`StripeGateway`] operations by name, as the Stripe-call log and
/// the metrics label them.
pub const OPERATIONS: [&str; 7] = [
    "create_checkout_session",
    "retrieve_checkout_session",
    "list_checkout_sessions",
    "expire_checkout_session",
    "retrieve_payment_intent",
    "cancel_payment_intent",
    "create_refund",
];

impl GatewayError {
    /// The error's class by name (one of [`ERROR_KINDS`]): the outcome of
    /// a logged Stripe call, the `kind` of its metric.
    pub fn kind(&self) -> &'static str {
        match self {
            GatewayError::NotFound(_) => "not_found",
            GatewayError::SessionNotOpen(_) => "session_not_open",
            GatewayError::Transient(_) => "transient",
            GatewayError::RateLimited { .. } => "rate_limited",
            GatewayError::Authentication(_) => "authentication",
            GatewayError::Permanent(_) => "permanent",
        }
    }

    /// Retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            GatewayError::Transient(_) | GatewayError::RateLimited { .. }
        )
    }
}

/// The Stripe operations the service uses.
#[async_trait]
pub trait StripeGateway: Send + Sync {
    async fn create_checkout_session(
        &self,
        session: &NewCheckoutSession,
        key: &StripeIdempotencyKey,
    ) -> Result<CheckoutSession, GatewayError>;

    async fn retrieve_checkout_session(&self, id: &str) -> Result<CheckoutSession, GatewayError>;

    /// Sessions with the given status created at or after `created_after`
    /// (all pages).
    async fn list_checkout_sessions(
        &self,
        status: SessionStatus,
        created_after: OffsetDateTime,
    ) -> Result<Vec<CheckoutSession>, GatewayError>;

    async fn expire_checkout_session(
        &self,
        id: &str,
        key: &StripeIdempotencyKey,
    ) -> Result<CheckoutSession, GatewayError>;

    async fn retrieve_payment_intent(&self, id: &str) -> Result<PaymentIntent, GatewayError>;

    async fn cancel_payment_intent(
        &self,
        id: &str,
        key: &StripeIdempotencyKey,
    ) -> Result<PaymentIntent, GatewayError>;

    /// Refunds `amount_minor` (the whole payment when `None`).
    async fn create_refund(
        &self,
        payment_intent_id: &str,
        amount_minor: Option<i64>,
        key: &StripeIdempotencyKey,
    ) -> Result<Refund, GatewayError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_lists_every_kind() {
        let errors = [
            GatewayError::NotFound(String::new()),
            GatewayError::SessionNotOpen(String::new()),
            GatewayError::Transient(String::new()),
            GatewayError::RateLimited { retry_after: None },
            GatewayError::Authentication(String::new()),
            GatewayError::Permanent(String::new()),
        ];
        let kinds: Vec<_> = errors.iter().map(GatewayError::kind).collect();
        assert_eq!(kinds, ERROR_KINDS);
    }

    #[test]
    fn idempotency_keys_are_stable_per_payment_and_action() {
        let payment = PaymentId::new();
        let a = StripeIdempotencyKey::for_action(payment, StripeAction::ExpireSession);
        let b = StripeIdempotencyKey::for_action(payment, StripeAction::ExpireSession);
        let c = StripeIdempotencyKey::for_action(payment, StripeAction::Refund);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.payment_id(), Some(payment));
        assert!(a.as_str().len() <= 255);
    }

    #[test]
    fn only_a_complete_and_paid_session_counts_as_paid() {
        let mut session = CheckoutSession {
            id: "cs_test_1".into(),
            status: SessionStatus::Open,
            payment_status: SessionPaymentStatus::Unpaid,
            payment_intent_id: None,
            expires_at: Some(OffsetDateTime::UNIX_EPOCH),
            url: None,
            payment_id: None,
        };
        assert!(!session.is_paid());
        session.status = SessionStatus::Complete;
        assert!(
            !session.is_paid(),
            "delayed payment methods complete unpaid"
        );
        session.payment_status = SessionPaymentStatus::Paid;
        assert!(session.is_paid());
    }
}
