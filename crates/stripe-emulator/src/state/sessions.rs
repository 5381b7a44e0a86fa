//! Checkout sessions: create, list, expire, pay.

use super::*;
use crate::form::{CreateSessionForm, ListSessionsQuery};

impl State {
    pub fn session(&self, id: &str) -> Result<&Session, ApiError> {
        self.session_index
            .get(id)
            .and_then(|&i| self.sessions.get(i))
            .ok_or_else(|| ApiError::not_found("checkout.session", id, "session"))
    }

    pub(crate) fn session_mut(&mut self, id: &str) -> Result<&mut Session, ApiError> {
        self.session_index
            .get(id)
            .and_then(|&i| self.sessions.get_mut(i))
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
        self.insert_session(session);
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
    pub(crate) fn expire(&mut self, id: &str) {
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
}
