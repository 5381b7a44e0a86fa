//! Job payloads shared by the API (which enqueues) and the worker (which
//! runs them). Plain serde types: this crate knows no queue runtime.
//!
//! Two queues keep a long sweep from delaying webhook processing.

use crate::audit::Actor;
use crate::values::ids::PaymentId;
use serde::{Deserialize, Serialize};

/// Queue of short, event-driven jobs.
pub const PAYMENTS_QUEUE: &str = "payments:jobs";
/// Queue of sweep runs (the self-rescheduling chain and one-off runs).
pub const SWEEP_QUEUE: &str = "payments:sweep";

/// A job on [`PAYMENTS_QUEUE`]. Webhook jobs carry only the event id: the
/// event itself is in PostgreSQL (stored before Stripe got its 2xx).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum PaymentJob {
    ManualPaymentCancellation {
        payment_id: PaymentId,
        actor: Actor,
    },
    CheckoutSessionExpired {
        event_id: String,
    },
    CheckoutSessionCompleted {
        event_id: String,
    },
    PaymentFailed {
        event_id: String,
    },
    ChargeRefunded {
        event_id: String,
    },
    /// Any other stored event (acknowledged; processed for the record).
    StripeEvent {
        event_id: String,
    },
}

impl PaymentJob {
    /// Every name [`PaymentJob::name`] gives, for exporting each job's
    /// metrics before its first run.
    pub const NAMES: [&'static str; 6] = [
        "manual_payment_cancellation",
        "checkout_session_expired",
        "checkout_session_completed",
        "payment_failed",
        "charge_refunded",
        "stripe_event",
    ];

    /// The job's name as SPEC §7 and `task_status` show it.
    pub fn name(&self) -> &'static str {
        match self {
            PaymentJob::ManualPaymentCancellation { .. } => "manual_payment_cancellation",
            PaymentJob::CheckoutSessionExpired { .. } => "checkout_session_expired",
            PaymentJob::CheckoutSessionCompleted { .. } => "checkout_session_completed",
            PaymentJob::PaymentFailed { .. } => "payment_failed",
            PaymentJob::ChargeRefunded { .. } => "charge_refunded",
            PaymentJob::StripeEvent { .. } => "stripe_event",
        }
    }

    /// The job that processes a stored Stripe event of `event_type`.
    pub fn for_event(event_type: &str, event_id: String) -> PaymentJob {
        match event_type {
            "checkout.session.expired" => PaymentJob::CheckoutSessionExpired { event_id },
            "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
                PaymentJob::CheckoutSessionCompleted { event_id }
            }
            "payment_intent.payment_failed" | "checkout.session.async_payment_failed" => {
                PaymentJob::PaymentFailed { event_id }
            }
            "charge.refunded" => PaymentJob::ChargeRefunded { event_id },
            _ => PaymentJob::StripeEvent { event_id },
        }
    }
}

/// Why a sweep runs: the one self-rescheduling chain, or a one-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SweepTrigger {
    /// The chain: schedules its own next run. At most one exists.
    Chain,
    /// Requested through the API; never schedules anything.
    Oneoff,
    /// Run synchronously by `manage clean_expired_sessions`.
    Cli,
}

impl SweepTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            SweepTrigger::Chain => "chain",
            SweepTrigger::Oneoff => "oneoff",
            SweepTrigger::Cli => "cli",
        }
    }
}

/// A job on [`SWEEP_QUEUE`]: `clean_expired_sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanExpiredSessions {
    pub trigger: SweepTrigger,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub force: bool,
    /// For the chain: the generation token that makes this job the one
    /// live link (a stale link that finds another token stops).
    #[serde(default)]
    pub chain_token: Option<String>,
}

impl CleanExpiredSessions {
    pub const NAME: &'static str = "clean_expired_sessions";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditSource;

    #[test]
    fn payment_jobs_serialise_with_their_spec_names() {
        let job = PaymentJob::ManualPaymentCancellation {
            payment_id: PaymentId::new(),
            actor: Actor::new(AuditSource::User, "ana@example.com"),
        };
        let json = serde_json::to_value(&job).unwrap();
        assert_eq!(json["job"], "manual_payment_cancellation");
        assert_eq!(serde_json::from_value::<PaymentJob>(json).unwrap(), job);
    }

    #[test]
    fn names_lists_every_job() {
        let event_id = || "evt_1".to_owned();
        let jobs = [
            PaymentJob::ManualPaymentCancellation {
                payment_id: PaymentId::new(),
                actor: Actor::new(AuditSource::User, "ana@example.com"),
            },
            PaymentJob::CheckoutSessionExpired {
                event_id: event_id(),
            },
            PaymentJob::CheckoutSessionCompleted {
                event_id: event_id(),
            },
            PaymentJob::PaymentFailed {
                event_id: event_id(),
            },
            PaymentJob::ChargeRefunded {
                event_id: event_id(),
            },
            PaymentJob::StripeEvent {
                event_id: event_id(),
            },
        ];
        let names: Vec<_> = jobs.iter().map(PaymentJob::name).collect();
        assert_eq!(names, PaymentJob::NAMES);
    }

    #[test]
    fn each_event_type_gets_its_job() {
        let job = |t: &str| PaymentJob::for_event(t, "evt_1".into()).name();
        assert_eq!(job("checkout.session.expired"), "checkout_session_expired");
        assert_eq!(
            job("checkout.session.completed"),
            "checkout_session_completed"
        );
        assert_eq!(
            job("checkout.session.async_payment_succeeded"),
            "checkout_session_completed"
        );
        assert_eq!(job("payment_intent.payment_failed"), "payment_failed");
        assert_eq!(job("charge.refunded"), "charge_refunded");
        assert_eq!(job("customer.created"), "stripe_event");
    }
}
