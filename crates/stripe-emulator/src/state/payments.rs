//! Payment intents, charges and refunds.

use super::*;
use crate::form::CreateRefundForm;

impl State {
    pub fn intent(&self, id: &str) -> Result<&PaymentIntent, ApiError> {
        self.intents
            .get(id)
            .ok_or_else(|| ApiError::not_found("payment_intent", id, "intent"))
    }

    pub(crate) fn cancel_intent_internal(&mut self, id: &str, reason: &str) {
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
