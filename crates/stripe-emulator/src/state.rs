//! The emulator's in-memory Stripe account: checkout sessions, payment
//! intents, charges, refunds and the events they emit. All changes go
//! through methods here, behind one mutex held by the server.

use crate::clock::Clock;
use crate::error::ApiError;
use crate::faults::FaultQueue;
use crate::form::{CreateRefundForm, CreateSessionForm, ListSessionsQuery};
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

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    fn emit(&mut self, type_: &str, object: Value) {
        let event = objects::event(&new_id("evt"), type_, self.now(), object);
        self.events.push(event.clone());
        self.outbox.push(event);
    }

    // ----- checkout sessions -------------------------------------------

    pub fn session(&self, id: &str) -> Result<&Session, ApiError> {
        self.sessions
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| ApiError::not_found("checkout.session", id, "session"))
    }

    fn session_mut(&mut self, id: &str) -> Result<&mut Session, ApiError> {
        self.sessions
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| ApiError::not_found("checkout.session", id, "session"))
    }

    pub fn render_session(&self, session: &Session, expand_intent: bool) -> Value {
        let expanded = expand_intent
            .then(|| {
                session
                    .payment_intent
                    .as_ref()
                    .and_then(|id| self.intents.get(id))
            })
            .flatten()
            .map(objects::payment_intent);
        objects::session(session, expanded)
    }

    pub fn create_session(&mut self, form: CreateSessionForm) -> Result<Value, ApiError> {
        match form.mode.as_deref() {
            None => return Err(ApiError::missing("mode")),
            Some("payment") => {}
            Some(other) => {
                return Err(ApiError::invalid(
                    "mode",
                    format!("The emulator supports only mode=payment, not '{other}'."),
                ));
            }
        }
        if form.line_items.is_empty() {
            return Err(ApiError::missing("line_items"));
        }
        let mut currency: Option<String> = form.currency.map(|c| c.to_ascii_lowercase());
        let mut line_items = Vec::new();
        for (i, item) in form.line_items.iter().enumerate() {
            let param = |p: &str| format!("line_items[{i}][{p}]");
            let price = item.price_data.as_ref().ok_or_else(|| {
                if item.price.is_some() {
                    ApiError::invalid(
                        &param("price"),
                        "The emulator supports only inline price_data.",
                    )
                } else {
                    ApiError::missing(&param("price_data"))
                }
            })?;
            let item_currency = price
                .currency
                .as_deref()
                .ok_or_else(|| ApiError::missing(&param("price_data][currency")))?
                .to_ascii_lowercase();
            if currency.get_or_insert_with(|| item_currency.clone()) != &item_currency {
                return Err(ApiError::invalid(
                    &param("price_data][currency"),
                    "All line items must use the same currency.",
                ));
            }
            let unit_amount = price
                .unit_amount
                .ok_or_else(|| ApiError::missing(&param("price_data][unit_amount")))?;
            if unit_amount < 0 {
                return Err(ApiError::invalid(
                    &param("price_data][unit_amount"),
                    "This value must be greater than or equal to 0.",
                ));
            }
            let name = price
                .product_data
                .as_ref()
                .and_then(|p| p.name.clone())
                .ok_or_else(|| ApiError::missing(&param("price_data][product_data][name")))?;
            let quantity = item
                .quantity
                .ok_or_else(|| ApiError::missing(&param("quantity")))?;
            if quantity < 1 {
                return Err(ApiError::invalid(
                    &param("quantity"),
                    "This value must be greater than or equal to 1.",
                ));
            }
            line_items.push(LineItem {
                name,
                unit_amount,
                quantity,
            });
        }
        let now = self.now();
        let expires_at = form.expires_at.unwrap_or(now + MAX_SESSION_TTL);
        if expires_at < now + MIN_SESSION_TTL || expires_at > now + MAX_SESSION_TTL {
            return Err(ApiError::invalid(
                "expires_at",
                "The `expires_at` timestamp must be at least 30 minutes and less than 24 hours from Checkout Session creation.",
            ));
        }
        let amount_total = line_items.iter().try_fold(0i64, |sum, l| {
            l.unit_amount
                .checked_mul(l.quantity)
                .and_then(|a| sum.checked_add(a))
        });
        let amount_total = amount_total
            .ok_or_else(|| ApiError::invalid("line_items", "The total amount is too large."))?;
        let id = new_id("cs_test");
        let session = Session {
            url: format!("{}/pay/{id}", self.base_url.trim_end_matches('/')),
            id,
            created: now,
            expires_at,
            status: SessionStatus::Open,
            payment_status: PaymentStatus::Unpaid,
            payment_intent: None,
            currency: currency.unwrap_or_else(|| "usd".into()),
            amount_total,
            success_url: form.success_url,
            cancel_url: form.cancel_url,
            client_reference_id: form.client_reference_id,
            customer_email: form.customer_email,
            metadata: form.metadata.into_iter().collect(),
            intent_metadata: form
                .payment_intent_data
                .map(|d| d.metadata.into_iter().collect())
                .unwrap_or_default(),
            line_items,
        };
        let rendered = self.render_session(&session, false);
        self.sessions.push(session);
        Ok(rendered)
    }

    pub fn list_sessions(&self, query: &ListSessionsQuery) -> Result<Value, ApiError> {
        let limit = query.limit.unwrap_or(10);
        if !(1..=100).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                "This value must be between 1 and 100.",
            ));
        }
        if let Some(status) = &query.status
            && !["open", "complete", "expired"].contains(&status.as_str())
        {
            return Err(ApiError::invalid(
                "status",
                format!(
                    "Invalid status: must be one of open, complete, or expired (got '{status}')."
                ),
            ));
        }
        // Newest first, as Stripe lists.
        let matching: Vec<&Session> = self
            .sessions
            .iter()
            .rev()
            .filter(|s| {
                query
                    .status
                    .as_deref()
                    .is_none_or(|st| s.status.as_str() == st)
            })
            .filter(|s| query.created.as_ref().is_none_or(|r| r.contains(s.created)))
            .filter(|s| {
                query
                    .payment_intent
                    .as_ref()
                    .is_none_or(|pi| s.payment_intent.as_ref() == Some(pi))
            })
            .collect();
        let start = match &query.starting_after {
            Some(cursor) => {
                self.session(cursor).map_err(|_| {
                    ApiError::invalid(
                        "starting_after",
                        format!("No such checkout.session: '{cursor}'"),
                    )
                })?;
                matching
                    .iter()
                    .position(|s| &s.id == cursor)
                    .map_or(matching.len(), |p| p + 1)
            }
            None => 0,
        };
        let end = match &query.ending_before {
            Some(cursor) => matching
                .iter()
                .position(|s| &s.id == cursor)
                .unwrap_or(matching.len()),
            None => matching.len(),
        };
        let window = &matching[start.min(end)..end];
        let limit = usize::try_from(limit).unwrap_or(10);
        let page = &window[..window.len().min(limit)];
        let expand = query.expand.iter().any(|e| e == "data.payment_intent");
        let data = page
            .iter()
            .map(|s| self.render_session(s, expand))
            .collect();
        Ok(objects::list(
            "/v1/checkout/sessions",
            data,
            window.len() > page.len(),
        ))
    }

    pub fn expire_session(&mut self, id: &str) -> Result<Value, ApiError> {
        let status = self.session(id)?.status;
        if status != SessionStatus::Open {
            return Err(ApiError::bad_request(format!(
                "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of `{}`.",
                status.as_str()
            )));
        }
        self.expire(id);
        let session = self.session(id)?;
        Ok(self.render_session(session, false))
    }

    /// Expires an open session, cancels its unfinished intent, and emits
    /// the events Stripe sends.
    fn expire(&mut self, id: &str) {
        let Ok(session) = self.session_mut(id) else {
            return;
        };
        session.status = SessionStatus::Expired;
        let intent_id = session.payment_intent.clone();
        if let Some(intent_id) = intent_id {
            self.cancel_intent_internal(&intent_id, "abandoned");
        }
        if let Ok(session) = self.session(id) {
            let rendered = self.render_session(session, false);
            self.emit("checkout.session.expired", rendered);
        }
    }

    /// Expires every open session whose `expires_at` has passed; returns
    /// their ids.
    pub fn expire_due_sessions(&mut self) -> Vec<String> {
        let now = self.now();
        let due: Vec<String> = self
            .sessions
            .iter()
            .filter(|s| s.status == SessionStatus::Open && s.expires_at <= now)
            .map(|s| s.id.clone())
            .collect();
        for id in &due {
            self.expire(id);
        }
        due
    }

    /// What the hosted page does when the customer submits a card.
    pub fn pay_session(&mut self, id: &str, outcome: PayOutcome) -> Result<Value, ApiError> {
        let now = self.now();
        let session = self.session(id)?.clone();
        if session.status != SessionStatus::Open || session.expires_at <= now {
            return Err(ApiError::unexpected_state(
                "checkout_session_not_open",
                format!(
                    "This Checkout Session is no longer payable: its status is `{}`.",
                    session.status.as_str()
                ),
            ));
        }
        let intent_id = match &session.payment_intent {
            Some(existing) => existing.clone(),
            None => {
                let intent = PaymentIntent {
                    id: new_id("pi"),
                    created: now,
                    amount: session.amount_total,
                    currency: session.currency.clone(),
                    status: "requires_payment_method".into(),
                    metadata: session.intent_metadata.clone(),
                    last_payment_error: None,
                    latest_charge: None,
                    canceled_at: None,
                    cancellation_reason: None,
                };
                let intent_id = intent.id.clone();
                self.intents.insert(intent_id.clone(), intent);
                self.session_mut(id)?.payment_intent = Some(intent_id.clone());
                intent_id
            }
        };
        match outcome {
            PayOutcome::Succeed => {
                let charge = Charge {
                    id: new_id("ch"),
                    created: now,
                    amount: session.amount_total,
                    amount_refunded: 0,
                    currency: session.currency.clone(),
                    payment_intent: intent_id.clone(),
                    metadata: session.intent_metadata.clone(),
                    refunds: Vec::new(),
                };
                let charge_id = charge.id.clone();
                self.charges.insert(charge_id.clone(), charge);
                if let Some(intent) = self.intents.get_mut(&intent_id) {
                    intent.status = "succeeded".into();
                    intent.last_payment_error = None;
                    intent.latest_charge = Some(charge_id);
                }
                let s = self.session_mut(id)?;
                s.status = SessionStatus::Complete;
                s.payment_status = PaymentStatus::Paid;
                let rendered = self.render_session(self.session(id)?, false);
                self.emit("checkout.session.completed", rendered.clone());
                Ok(rendered)
            }
            PayOutcome::Decline => {
                if let Some(intent) = self.intents.get_mut(&intent_id) {
                    intent.status = "requires_payment_method".into();
                    intent.last_payment_error = Some(CardError {
                        code: "card_declined".into(),
                        decline_code: "generic_decline".into(),
                        message: "Your card was declined.".into(),
                    });
                }
                let rendered = self
                    .intents
                    .get(&intent_id)
                    .map(objects::payment_intent)
                    .unwrap_or(Value::Null);
                self.emit("payment_intent.payment_failed", rendered);
                Ok(self.render_session(self.session(id)?, false))
            }
        }
    }

    // ----- payment intents, charges, refunds ---------------------------

    pub fn intent(&self, id: &str) -> Result<&PaymentIntent, ApiError> {
        self.intents
            .get(id)
            .ok_or_else(|| ApiError::not_found("payment_intent", id, "intent"))
    }

    fn cancel_intent_internal(&mut self, id: &str, reason: &str) {
        let now = self.now();
        let Some(intent) = self.intents.get_mut(id) else {
            return;
        };
        if matches!(intent.status.as_str(), "succeeded" | "canceled") {
            return;
        }
        intent.status = "canceled".into();
        intent.canceled_at = Some(now);
        intent.cancellation_reason = Some(reason.into());
        let rendered = objects::payment_intent(intent);
        self.emit("payment_intent.canceled", rendered);
    }

    /// Stripe lets a PaymentIntent be cancelled unless it succeeded or was
    /// already cancelled.
    pub fn cancel_intent(&mut self, id: &str, reason: Option<String>) -> Result<Value, ApiError> {
        let status = self.intent(id)?.status.clone();
        if matches!(status.as_str(), "succeeded" | "canceled") {
            return Err(ApiError::unexpected_state(
                "payment_intent_unexpected_state",
                format!(
                    "You cannot cancel this PaymentIntent because it has a status of {status}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing."
                ),
            ));
        }
        self.cancel_intent_internal(id, reason.as_deref().unwrap_or("requested_by_customer"));
        Ok(objects::payment_intent(self.intent(id)?))
    }

    pub fn render_charge(&self, charge: &Charge) -> Value {
        let refunds = charge
            .refunds
            .iter()
            .filter_map(|r| self.refunds.get(r))
            .map(objects::refund)
            .collect();
        objects::charge(charge, refunds)
    }

    pub fn charge(&self, id: &str) -> Result<&Charge, ApiError> {
        self.charges
            .get(id)
            .ok_or_else(|| ApiError::not_found("charge", id, "charge"))
    }

    pub fn create_refund(&mut self, form: CreateRefundForm) -> Result<Value, ApiError> {
        let charge_id = match (&form.payment_intent, &form.charge) {
            (Some(pi), _) => {
                let intent = self
                    .intents
                    .get(pi)
                    .ok_or_else(|| ApiError::not_found("payment_intent", pi, "payment_intent"))?;
                intent.latest_charge.clone().filter(|_| intent.status == "succeeded").ok_or_else(|| {
                    ApiError::unexpected_state(
                        "charge_not_refundable",
                        format!("This PaymentIntent ({pi}) does not have a successful charge to refund."),
                    )
                })?
            }
            (None, Some(ch)) => self.charge(ch)?.id.clone(),
            (None, None) => return Err(ApiError::missing("payment_intent")),
        };
        let charge = self.charge(&charge_id)?.clone();
        let remaining = charge.amount - charge.amount_refunded;
        if remaining <= 0 {
            return Err(ApiError::unexpected_state(
                "charge_already_refunded",
                format!("Charge {charge_id} has already been refunded."),
            ));
        }
        let amount = form.amount.unwrap_or(remaining);
        if amount <= 0 || amount > remaining {
            return Err(ApiError::invalid(
                "amount",
                format!(
                    "Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})"
                ),
            ));
        }
        let refund = Refund {
            id: new_id("re"),
            created: self.now(),
            amount,
            currency: charge.currency.clone(),
            charge: charge_id.clone(),
            payment_intent: charge.payment_intent.clone(),
            reason: form.reason,
            metadata: form.metadata.into_iter().collect(),
        };
        let rendered = objects::refund(&refund);
        let refund_id = refund.id.clone();
        self.refunds.insert(refund_id.clone(), refund);
        if let Some(c) = self.charges.get_mut(&charge_id) {
            c.amount_refunded += amount;
            c.refunds.push(refund_id);
        }
        let charge = self.render_charge(self.charge(&charge_id)?);
        self.emit("charge.refunded", charge);
        Ok(rendered)
    }
}
