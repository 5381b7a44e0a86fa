//! Stripe as the worker uses it: the event parser (re-exported from
//! `stripe-client`), and a gateway wrapper that exports call latency and errors as metrics.

use crate::metrics as m;
use async_trait::async_trait;
use domain::gateway::{
    CheckoutSession, GatewayError, NewCheckoutSession, PaymentIntent, Refund, SessionStatus,
    StripeGateway, StripeIdempotencyKey,
};
use std::sync::Arc;
use std::time::Instant;
use time::OffsetDateTime;

pub use stripe_client::webhook::StripeEventParser;

/// Wraps any gateway, recording `payments_stripe_call_seconds` and
/// `payments_stripe_call_errors_total` by operation.
pub struct MeteredGateway {
    inner: Arc<dyn StripeGateway>,
}

impl MeteredGateway {
    pub fn new(inner: Arc<dyn StripeGateway>) -> Self {
        Self { inner }
    }
}

async fn observe<T>(
    operation: &'static str,
    call: impl Future<Output = Result<T, GatewayError>>,
) -> Result<T, GatewayError> {
    debug_assert!(
        domain::gateway::OPERATIONS.contains(&operation),
        "{operation} not in OPERATIONS"
    );
    let started = Instant::now();
    let result = call.await;
    m::stripe_call(operation, started.elapsed(), result.as_ref().err());
    result
}

#[async_trait]
impl StripeGateway for MeteredGateway {
    async fn create_checkout_session(
        &self,
        session: &NewCheckoutSession,
        key: &StripeIdempotencyKey,
    ) -> Result<CheckoutSession, GatewayError> {
        observe(
            "create_checkout_session",
            self.inner.create_checkout_session(session, key),
        )
        .await
    }

    async fn retrieve_checkout_session(&self, id: &str) -> Result<CheckoutSession, GatewayError> {
        observe(
            "retrieve_checkout_session",
            self.inner.retrieve_checkout_session(id),
        )
        .await
    }

    async fn list_checkout_sessions(
        &self,
        status: SessionStatus,
        created_after: OffsetDateTime,
    ) -> Result<Vec<CheckoutSession>, GatewayError> {
        observe(
            "list_checkout_sessions",
            self.inner.list_checkout_sessions(status, created_after),
        )
        .await
    }

    async fn expire_checkout_session(
        &self,
        id: &str,
        key: &StripeIdempotencyKey,
    ) -> Result<CheckoutSession, GatewayError> {
        observe(
            "expire_checkout_session",
            self.inner.expire_checkout_session(id, key),
        )
        .await
    }

    async fn retrieve_payment_intent(&self, id: &str) -> Result<PaymentIntent, GatewayError> {
        observe(
            "retrieve_payment_intent",
            self.inner.retrieve_payment_intent(id),
        )
        .await
    }

    async fn cancel_payment_intent(
        &self,
        id: &str,
        key: &StripeIdempotencyKey,
    ) -> Result<PaymentIntent, GatewayError> {
        observe(
            "cancel_payment_intent",
            self.inner.cancel_payment_intent(id, key),
        )
        .await
    }

    async fn create_refund(
        &self,
        payment_intent_id: &str,
        amount_minor: Option<i64>,
        key: &StripeIdempotencyKey,
    ) -> Result<Refund, GatewayError> {
        observe(
            "create_refund",
            self.inner
                .create_refund(payment_intent_id, amount_minor, key),
        )
        .await
    }
}
