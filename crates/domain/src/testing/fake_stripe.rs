//! An in-process Stripe for domain tests: sessions with Stripe's state
//! rules, idempotent refunds, and switches to make it fail.

use crate::gateway::{
    CheckoutSession, GatewayError, IssuedRefund, NewCheckoutSession, PaymentIntent, Refund,
    SessionPaymentStatus, SessionStatus, StripeGateway, StripeIdempotencyKey,
};
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use time::OffsetDateTime;

#[derive(Default)]
struct State {
    sessions: HashMap<String, CheckoutSession>,
    created: HashMap<String, OffsetDateTime>,
    amounts: HashMap<String, i64>,
    /// By idempotency key.
    refunds: HashMap<String, IssuedRefund>,
    /// Intents whose charge has been refunded, by us or from the dashboard.
    refunded_intents: HashSet<String>,
    calls: Vec<String>,
}

#[derive(Default)]
pub struct FakeStripe {
    state: Mutex<State>,
    unreachable: AtomicBool,
    next_id: AtomicUsize,
}

impl FakeStripe {
    pub fn new() -> Self {
        Self::default()
    }

    /// While set, every call fails as a network error would.
    pub fn set_unreachable(&self, unreachable: bool) {
        self.unreachable.store(unreachable, Ordering::SeqCst);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_reachable(&self, call: String) -> Result<(), GatewayError> {
        self.state().calls.push(call);
        if self.unreachable.load(Ordering::SeqCst) {
            Err(GatewayError::Transient("connection refused".into()))
        } else {
            Ok(())
        }
    }

    /// The customer pays on the hosted page.
    pub fn pay(&self, session_id: &str) -> CheckoutSession {
        self.pay_if_open(session_id)
            .expect("only open sessions can be paid")
    }

    /// The customer pays if the session is still open at that moment, in
    /// one step under the lock (as on Stripe, a payment and an expiry
    /// cannot both win); `None` when it was already expired or paid.
    pub fn pay_if_open(&self, session_id: &str) -> Option<CheckoutSession> {
        let mut state = self.state();
        let session = state.sessions.get_mut(session_id).expect("known session");
        if session.status != SessionStatus::Open {
            return None;
        }
        session.status = SessionStatus::Complete;
        session.payment_status = SessionPaymentStatus::Paid;
        session.payment_intent_id = Some(format!("pi_{session_id}"));
        session.url = None;
        Some(session.clone())
    }

    /// Stripe expires the session by itself (its `expires_at` passed).
    pub fn expire(&self, session_id: &str) -> CheckoutSession {
        let mut state = self.state();
        let session = state.sessions.get_mut(session_id).expect("known session");
        if session.status == SessionStatus::Open {
            session.status = SessionStatus::Expired;
            session.url = None;
        }
        session.clone()
    }

    pub fn session(&self, session_id: &str) -> Option<CheckoutSession> {
        self.state().sessions.get(session_id).cloned()
    }

    /// The refunds the service asked for (not those from the dashboard).
    pub fn refunds(&self) -> Vec<IssuedRefund> {
        self.state().refunds.values().cloned().collect()
    }

    /// Someone refunds the payment in Stripe's dashboard, before we do.
    pub fn refund_in_dashboard(&self, payment_intent_id: &str) {
        self.state()
            .refunded_intents
            .insert(payment_intent_id.to_owned());
    }

    /// Every call made, e.g. `"expire cs_1 key=payment:..:expire_session"`.
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }
}

#[async_trait]
impl StripeGateway for FakeStripe {
    async fn create_checkout_session(
        &self,
        new: &NewCheckoutSession,
        key: &StripeIdempotencyKey,
    ) -> Result<CheckoutSession, GatewayError> {
        self.check_reachable(format!("create key={key}"))?;
        let id = format!("cs_test_{}", self.next_id.fetch_add(1, Ordering::SeqCst));
        let session = CheckoutSession {
            id: id.clone(),
            status: SessionStatus::Open,
            payment_status: SessionPaymentStatus::Unpaid,
            payment_intent_id: None,
            expires_at: Some(new.expires_at),
            url: Some(format!("https://checkout.test/pay/{id}")),
            payment_id: Some(new.payment_id),
        };
        let amount = new
            .lines
            .iter()
            .map(|l| l.unit_amount_minor * l.quantity)
            .sum();
        let mut state = self.state();
        state.sessions.insert(id.clone(), session.clone());
        state.created.insert(id.clone(), OffsetDateTime::now_utc());
        state.amounts.insert(id, amount);
        Ok(session)
    }

    async fn retrieve_checkout_session(&self, id: &str) -> Result<CheckoutSession, GatewayError> {
        self.check_reachable(format!("retrieve {id}"))?;
        self.session(id)
            .ok_or_else(|| GatewayError::NotFound(id.to_owned()))
    }

    async fn list_checkout_sessions(
        &self,
        status: SessionStatus,
        created_after: OffsetDateTime,
    ) -> Result<Vec<CheckoutSession>, GatewayError> {
        self.check_reachable(format!("list {}", status.as_str()))?;
        let state = self.state();
        Ok(state
            .sessions
            .values()
            .filter(|s| s.status == status && state.created[&s.id] >= created_after)
            .cloned()
            .collect())
    }

    async fn expire_checkout_session(
        &self,
        id: &str,
        key: &StripeIdempotencyKey,
    ) -> Result<CheckoutSession, GatewayError> {
        self.check_reachable(format!("expire {id} key={key}"))?;
        let mut state = self.state();
        let session = state
            .sessions
            .get_mut(id)
            .ok_or_else(|| GatewayError::NotFound(id.to_owned()))?;
        if session.status != SessionStatus::Open {
            return Err(GatewayError::SessionNotOpen(format!(
                "session {id} is {}",
                session.status.as_str()
            )));
        }
        session.status = SessionStatus::Expired;
        session.url = None;
        Ok(session.clone())
    }

    async fn retrieve_payment_intent(&self, id: &str) -> Result<PaymentIntent, GatewayError> {
        self.check_reachable(format!("retrieve_intent {id}"))?;
        Ok(PaymentIntent {
            id: id.to_owned(),
            status: "succeeded".into(),
        })
    }

    async fn cancel_payment_intent(
        &self,
        id: &str,
        key: &StripeIdempotencyKey,
    ) -> Result<PaymentIntent, GatewayError> {
        self.check_reachable(format!("cancel_intent {id} key={key}"))?;
        Err(GatewayError::Permanent(format!(
            "payment intent {id} cannot be canceled"
        )))
    }

    async fn create_refund(
        &self,
        payment_intent_id: &str,
        amount_minor: Option<i64>,
        key: &StripeIdempotencyKey,
    ) -> Result<Refund, GatewayError> {
        self.check_reachable(format!("refund {payment_intent_id} key={key}"))?;
        let mut state = self.state();
        if let Some(refund) = state.refunds.get(key.as_str()) {
            return Ok(Refund::Issued(refund.clone()));
        }
        if state.refunded_intents.contains(payment_intent_id) {
            return Ok(Refund::AlreadyRefunded);
        }
        if amount_minor.is_none() {
            state.refunded_intents.insert(payment_intent_id.to_owned());
        }
        let session_id = payment_intent_id.trim_start_matches("pi_").to_owned();
        let amount =
            amount_minor.unwrap_or_else(|| state.amounts.get(&session_id).copied().unwrap_or(0));
        let refund = IssuedRefund {
            id: format!("re_test_{}", state.refunds.len()),
            status: "succeeded".into(),
            amount_minor: amount,
        };
        state.refunds.insert(key.to_string(), refund.clone());
        Ok(Refund::Issued(refund))
    }
}
