//! The emulator's in-memory Stripe account: checkout sessions, payment
//! intents, charges, refunds and the events they emit. All changes go
//! through methods here (sessions in `sessions.rs`, payment intents, charges
//! and refunds in `payments.rs`), behind one mutex held by the server.

mod payments;
mod sessions;

use crate::clock::Clock;
use crate::error::ApiError;
use crate::faults::FaultQueue;
use crate::idempotency::IdempotencyStore;
use crate::ids::new_id;
use crate::objects;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Stripe's bounds on `expires_at`, from the session's creation.
pub const MIN_SESSION_TTL: i64 = 30 * 60;
pub const MAX_SESSION_TTL: i64 = 24 * 60 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Open => "open",
            SessionStatus::Complete => "complete",
            SessionStatus::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    Paid,
    Unpaid,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Paid => "paid",
            PaymentStatus::Unpaid => "unpaid",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub name: String,
    pub unit_amount: i64,
    pub quantity: i64,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub created: i64,
    pub expires_at: i64,
    pub status: SessionStatus,
    pub payment_status: PaymentStatus,
    pub payment_intent: Option<String>,
    pub currency: String,
    pub amount_total: i64,
    pub url: String,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
    pub client_reference_id: Option<String>,
    pub customer_email: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub intent_metadata: BTreeMap<String, String>,
    pub line_items: Vec<LineItem>,
}

#[derive(Debug, Clone)]
pub struct CardError {
    pub code: String,
    pub decline_code: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct PaymentIntent {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub metadata: BTreeMap<String, String>,
    pub last_payment_error: Option<CardError>,
    pub latest_charge: Option<String>,
    pub canceled_at: Option<i64>,
    pub cancellation_reason: Option<String>,
    /// The Checkout Session that created the intent. Not rendered (Stripe's
    /// PaymentIntent has no such field); it makes `cancel` refuse the
    /// intent, as Stripe does.
    pub checkout_session: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Charge {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub amount_refunded: i64,
    pub currency: String,
    pub payment_intent: String,
    pub metadata: BTreeMap<String, String>,
    pub refunds: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Refund {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub currency: String,
    pub charge: String,
    pub payment_intent: String,
    pub reason: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// How a customer on the hosted page pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayOutcome {
    /// Card 4242 4242 4242 4242.
    Succeed,
    /// Card 4000 0000 0000 0002: declined.
    Decline,
}

impl PayOutcome {
    pub fn from_card(number: &str) -> Option<Self> {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        match digits.as_str() {
            "4242424242424242" => Some(PayOutcome::Succeed),
            "4000000000000002" => Some(PayOutcome::Decline),
            _ => None,
        }
    }
}

/// One API request, as the emulator received it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    pub status: u16,
    /// `true` when the response was a saved idempotent response.
    pub replayed: bool,
    /// Set when an injected fault answered.
    pub injected: bool,
    pub at: i64,
}

#[derive(Debug)]
pub struct State {
    pub clock: Clock,
    /// Where the hosted checkout pages live (`{base_url}/pay/{id}`).
    pub base_url: String,
    pub sessions: Vec<Session>,
    /// Position of each session in `sessions` by id: lookups by id were a
    /// linear scan under the state lock, which made every call O(sessions)
    /// (a benchmark holds 100 k of them).
    session_index: HashMap<String, usize>,
    pub intents: HashMap<String, PaymentIntent>,
    pub charges: HashMap<String, Charge>,
    pub refunds: HashMap<String, Refund>,
    pub events: Vec<Value>,
    /// Events not yet handed to webhook delivery.
    pub outbox: Vec<Value>,
    pub idempotency: IdempotencyStore,
    pub faults: FaultQueue,
    pub requests: Vec<RequestRecord>,
}

impl State {
    pub fn new(base_url: String) -> Self {
        Self {
            clock: Clock::default(),
            base_url,
            sessions: Vec::new(),
            session_index: HashMap::new(),
            intents: HashMap::new(),
            charges: HashMap::new(),
            refunds: HashMap::new(),
            events: Vec::new(),
            outbox: Vec::new(),
            idempotency: IdempotencyStore::default(),
            faults: FaultQueue::default(),
            requests: Vec::new(),
        }
    }

    /// Forgets everything but the base URL.
    pub fn reset(&mut self) {
        *self = State::new(std::mem::take(&mut self.base_url));
    }

    /// Adds a session (its id must be new) and indexes it.
    pub fn insert_session(&mut self, session: Session) {
        self.session_index
            .insert(session.id.clone(), self.sessions.len());
        self.sessions.push(session);
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The events about one Checkout Session: the session's own, and those
    /// of its payment intent and the intent's charges and refunds, oldest
    /// first. Empty for an unknown session.
    pub fn events_of_session(&self, session_id: &str) -> Vec<Value> {
        let Ok(session) = self.session(session_id) else {
            return Vec::new();
        };
        let intent = session.payment_intent.as_deref();
        self.events
            .iter()
            .filter(|event| {
                let object = &event["data"]["object"];
                object["id"] == session_id
                    || intent.is_some_and(|i| object["id"] == i || object["payment_intent"] == i)
            })
            .cloned()
            .collect()
    }

    pub(crate) fn emit(&mut self, type_: &str, object: Value) {
        let event = objects::event(&new_id("evt"), type_, self.now(), object);
        self.events.push(event.clone());
        self.outbox.push(event);
    }
}
