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
        let limit = list_limit(query.limit)?;
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
        let cursor = self.list_cursor(query)?;
        // Newest first, as Stripe lists; each session keeps its position in
        // `sessions` (creation order), which is what a cursor is compared by.
        let matching: Vec<(usize, &Session)> = self
            .sessions
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, s)| list_filters_match(query, s))
            .collect();
        let (page, has_more) = page_of(&matching, cursor, limit);
        let expand = query.expand.iter().any(|e| e == "data.payment_intent");
        let data = page
            .iter()
            .map(|(_, s)| self.render_session(s, expand))
            .collect();
        Ok(objects::list("/v1/checkout/sessions", data, has_more))
    }

    /// The cursor of a list request. Like Stripe, it must name a known
    /// session, and only one of `starting_after` and `ending_before` may be
    /// given.
    fn list_cursor(&self, query: &ListSessionsQuery) -> Result<Cursor, ApiError> {
        let position = |param: &str, id: &str| {
            self.session_index.get(id).copied().ok_or_else(|| {
                ApiError::invalid(param, format!("No such checkout.session: '{id}'"))
            })
        };
        match (&query.starting_after, &query.ending_before) {
            (Some(_), Some(_)) => Err(ApiError::invalid_parameters(
                "You may only specify one of these parameters: ending_before, starting_after.",
            )),
            (Some(id), None) => Ok(Cursor::After(position("starting_after", id)?)),
            (None, Some(id)) => Ok(Cursor::Before(position("ending_before", id)?)),
            (None, None) => Ok(Cursor::Newest),
        }
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
            self.cancel_intent_internal(&intent_id, Some("abandoned"));
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

    /// Why `session` cannot be paid, if it cannot: it is not open, its
    /// `expires_at` has passed (before the tick expired it), or its
    /// PaymentIntent was cancelled, which on Stripe is final — paying would
    /// otherwise turn a `canceled` intent into `succeeded`.
    pub fn unpayable(&self, session: &Session) -> Option<ApiError> {
        let canceled_intent = session
            .payment_intent
            .as_ref()
            .and_then(|id| self.intents.get(id))
            .filter(|intent| intent.status == "canceled");
        let reason = if session.status != SessionStatus::Open {
            format!("its status is `{}`", session.status.as_str())
        } else if session.expires_at <= self.now() {
            "its `expires_at` has passed".to_owned()
        } else if let Some(intent) = canceled_intent {
            format!("its PaymentIntent {} is `canceled`", intent.id)
        } else {
            return None;
        };
        Some(ApiError::unexpected_state(
            "checkout_session_not_open",
            format!("This Checkout Session is no longer payable: {reason}."),
        ))
    }

    /// What the hosted page does when the customer submits a card.
    pub fn pay_session(&mut self, id: &str, outcome: PayOutcome) -> Result<Value, ApiError> {
        let now = self.now();
        let session = self.session(id)?.clone();
        if let Some(refusal) = self.unpayable(&session) {
            return Err(refusal);
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
                    checkout_session: Some(session.id.clone()),
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

/// Where a list page sits. Stripe's cursors name an object; the page holds
/// the objects right after it (`starting_after`, going to older ones) or
/// right before it (`ending_before`, going back to newer ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cursor {
    Newest,
    /// The cursor session's position in `State::sessions`.
    After(usize),
    Before(usize),
}

/// `limit`: 1 to 100, 10 when not given.
fn list_limit(limit: Option<i64>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "This value must be between 1 and 100.",
        ));
    }
    Ok(usize::try_from(limit).unwrap_or(10))
}

fn list_filters_match(query: &ListSessionsQuery, session: &Session) -> bool {
    query
        .status
        .as_deref()
        .is_none_or(|st| session.status.as_str() == st)
        && query
            .created
            .as_ref()
            .is_none_or(|r| r.contains(session.created))
        && query
            .payment_intent
            .as_ref()
            .is_none_or(|pi| session.payment_intent.as_ref() == Some(pi))
}

/// The page of `newest_first` (positions descending) that `cursor` selects,
/// still newest first, and whether more objects lie beyond it in the
/// direction of paging: older ones after a `starting_after` page, newer
/// ones before an `ending_before` page.
fn page_of<T>(newest_first: &[(usize, T)], cursor: Cursor, limit: usize) -> (&[(usize, T)], bool) {
    let first = |items: &'_ [(usize, T)]| {
        let end = items.len().min(limit);
        (end < items.len(), end)
    };
    match cursor {
        Cursor::Newest => {
            let (more, end) = first(newest_first);
            (&newest_first[..end], more)
        }
        Cursor::After(at) => {
            let older = &newest_first[newest_first.partition_point(|(i, _)| *i >= at)..];
            let (more, end) = first(older);
            (&older[..end], more)
        }
        Cursor::Before(at) => {
            // The `limit` newer objects closest to the cursor, i.e. the
            // last ones of the newer part.
            let newer = &newest_first[..newest_first.partition_point(|(i, _)| *i > at)];
            let start = newer.len().saturating_sub(limit);
            (&newer[start..], start > 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Cursor, page_of};

    /// Positions 4, 3, 2, 1, 0: newest first.
    fn list() -> Vec<(usize, ())> {
        (0..5).rev().map(|i| (i, ())).collect()
    }

    fn positions(page: &[(usize, ())]) -> Vec<usize> {
        page.iter().map(|(i, _)| *i).collect()
    }

    #[test]
    fn starting_after_pages_forwards_to_older_objects() {
        let list = list();
        let (page, more) = page_of(&list, Cursor::After(4), 2);
        assert_eq!((positions(page), more), (vec![3, 2], true));
        let (page, more) = page_of(&list, Cursor::After(2), 2);
        assert_eq!((positions(page), more), (vec![1, 0], false));
    }

    #[test]
    fn ending_before_pages_backwards_to_newer_objects() {
        let list = list();
        let (page, more) = page_of(&list, Cursor::Before(1), 2);
        assert_eq!((positions(page), more), (vec![3, 2], true));
        let (page, more) = page_of(&list, Cursor::Before(2), 2);
        assert_eq!((positions(page), more), (vec![4, 3], false));
        let (page, more) = page_of(&list, Cursor::Before(4), 2);
        assert_eq!((positions(page), more), (vec![], false));
    }

    #[test]
    fn a_cursor_filtered_out_of_the_list_still_marks_its_place() {
        // Position 2 is not in the (filtered) list.
        let list: Vec<(usize, ())> = [4, 3, 1, 0].into_iter().map(|i| (i, ())).collect();
        assert_eq!(
            positions(page_of(&list, Cursor::After(2), 10).0),
            vec![1, 0]
        );
        assert_eq!(
            positions(page_of(&list, Cursor::Before(2), 10).0),
            vec![4, 3]
        );
    }
}
