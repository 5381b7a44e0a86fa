//! Payment intents, charges and refunds.

use super::*;
use crate::form::CreateRefundForm;

/// The values Stripe accepts for `cancellation_reason`.
const CANCELLATION_REASONS: [&str; 4] = [
    "duplicate",
    "fraudulent",
    "requested_by_customer",
    "abandoned",
];

impl State {
    pub fn intent(&self, id: &str) -> Result<&PaymentIntent, ApiError> {
        self.intents
            .get(id)
            .ok_or_else(|| ApiError::not_found("payment_intent", id, "intent"))
    }

    /// Cancels an unfinished intent with `reason` (`None` leaves
    /// `cancellation_reason` null) and emits `payment_intent.canceled`.
    pub(crate) fn cancel_intent_internal(&mut self, id: &str, reason: Option<&str>) {
        let now = self.now();
        let Some(intent) = self.intents.get_mut(id) else {
            return;
        };
        if matches!(intent.status.as_str(), "succeeded" | "canceled") {
            return;
        }
        intent.status = "canceled".into();
        intent.canceled_at = Some(now);
        intent.cancellation_reason = reason.map(str::to_owned);
        let rendered = objects::payment_intent(intent);
        self.emit("payment_intent.canceled", rendered);
    }

    /// `POST /v1/payment_intents/{id}/cancel`. Stripe lets a PaymentIntent
    /// be cancelled unless it succeeded or was already cancelled, but the
    /// intent of a Checkout Session only in `requires_capture` (manual
    /// capture, which the emulator does not model): otherwise the session
    /// must be expired instead. `cancellation_reason` is what the request
    /// sent, null if nothing.
    pub fn cancel_intent(&mut self, id: &str, reason: Option<String>) -> Result<Value, ApiError> {
        if let Some(reason) = &reason
            && !CANCELLATION_REASONS.contains(&reason.as_str())
        {
            return Err(ApiError::invalid(
                "cancellation_reason",
                format!(
                    "Invalid cancellation_reason: must be one of {} (got '{reason}').",
                    CANCELLATION_REASONS.join(", ")
                ),
            ));
        }
        let intent = self.intent(id)?;
        let status = intent.status.clone();
        if matches!(status.as_str(), "succeeded" | "canceled") {
            return Err(ApiError::unexpected_state(
                "payment_intent_unexpected_state",
                format!(
                    "You cannot cancel this PaymentIntent because it has a status of {status}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing."
                ),
            ));
        }
        if intent.checkout_session.is_some() && status != "requires_capture" {
            return Err(ApiError::bad_request(
                "You can't cancel the PaymentIntent for a Checkout Session. Expire the Checkout Session instead.",
            ));
        }
        self.cancel_intent_internal(id, reason.as_deref());
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
        if form.amount.is_some_and(|amount| amount < 1) {
            return Err(ApiError::invalid(
                "amount",
                "This value must be greater than or equal to 1.",
            ));
        }
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
        if amount > remaining {
            // Checked against the charge, so while executing: saved under
            // the request's key, unlike a validation failure.
            return Err(ApiError::invalid(
                "amount",
                format!(
                    "Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})"
                ),
            )
            .while_executing());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::{self, CreateSessionForm};

    /// A state holding one open Checkout Session whose card was declined,
    /// so that it has a PaymentIntent in `requires_payment_method`; returns
    /// the session and intent ids.
    fn session_with_intent(state: &mut State) -> (String, String) {
        let form: CreateSessionForm = form::parse(
            b"mode=payment&line_items[0][price_data][currency]=usd\
              &line_items[0][price_data][unit_amount]=500\
              &line_items[0][price_data][product_data][name]=Tea&line_items[0][quantity]=1",
        )
        .unwrap();
        let session = state.create_session(form).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        state.pay_session(&session, PayOutcome::Decline).unwrap();
        let intent = state.session(&session).unwrap().payment_intent.clone();
        (session, intent.unwrap())
    }

    #[test]
    fn the_payment_intent_of_a_checkout_session_cannot_be_cancelled() {
        let mut state = State::new("http://emulator.test".into());
        let (_, intent) = session_with_intent(&mut state);

        let refused = state.cancel_intent(&intent, None).unwrap_err();

        assert_eq!(
            (refused.status, refused.type_),
            (400, "invalid_request_error")
        );
        assert_eq!(refused.code, None);
        assert_eq!(
            refused.message,
            "You can't cancel the PaymentIntent for a Checkout Session. Expire the Checkout Session instead."
        );
        assert!(!refused.validation, "saved under an idempotency key");
        assert_eq!(
            state.intent(&intent).unwrap().status,
            "requires_payment_method"
        );
        assert!(
            state
                .outbox
                .iter()
                .all(|e| e["type"] != "payment_intent.canceled")
        );
    }

    #[test]
    fn cancelling_never_invents_a_cancellation_reason() {
        let mut state = State::new("http://emulator.test".into());
        // Stripe cancels a Checkout Session's intent in `requires_capture`
        // (manual capture, which the emulator reaches no other way).
        let (_, first) = session_with_intent(&mut state);
        let (_, second) = session_with_intent(&mut state);
        for intent in [&first, &second] {
            state.intents.get_mut(intent.as_str()).unwrap().status = "requires_capture".into();
        }

        let canceled = state.cancel_intent(&first, None).unwrap();
        assert_eq!(canceled["status"], "canceled");
        assert_eq!(canceled["cancellation_reason"], Value::Null);

        let bogus = state
            .cancel_intent(&second, Some("changed_my_mind".into()))
            .unwrap_err();
        assert_eq!(bogus.param.as_deref(), Some("cancellation_reason"));
        assert!(bogus.validation);
        let canceled = state
            .cancel_intent(&second, Some("duplicate".into()))
            .unwrap();
        assert_eq!(canceled["cancellation_reason"], "duplicate");
    }

    #[test]
    fn a_session_whose_payment_intent_is_canceled_cannot_be_paid() {
        let mut state = State::new("http://emulator.test".into());
        let (session, intent) = session_with_intent(&mut state);
        state.intents.get_mut(intent.as_str()).unwrap().status = "requires_capture".into();
        state.cancel_intent(&intent, None).unwrap();

        for outcome in [PayOutcome::Succeed, PayOutcome::Decline] {
            let refused = state.pay_session(&session, outcome).unwrap_err();
            assert_eq!(refused.code, Some("checkout_session_not_open"));
        }
        let session = state.session(&session).unwrap();
        assert_eq!(session.status, SessionStatus::Open);
        assert_eq!(state.intent(&intent).unwrap().status, "canceled");
    }
}
