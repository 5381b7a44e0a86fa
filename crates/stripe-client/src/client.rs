//! [`StripeClient`]: the [`StripeGateway`] over HTTP.

use crate::classify::{Operation, classify, is_already_refunded};
use crate::config::{ConfigError, StripeConfig};
use crate::convert::{self, ORDER_ID_KEY, PAYMENT_ID_KEY};
use crate::retry::RetryPolicy;
use crate::transport::{HttpTransport, TransportError};
use async_trait::async_trait;
use domain::gateway::{
    CheckoutSession, GatewayError, NewCheckoutSession, PaymentIntent, Refund, SessionStatus,
    StripeGateway, StripeIdempotencyKey,
};
use std::collections::HashMap;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ExpireCheckoutSession, ListCheckoutSession,
    ProductData, RetrieveCheckoutSession,
};
use stripe_client_core::{IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_core::payment_intent::{CancelPaymentIntent, RetrievePaymentIntent};
use stripe_core::refund::CreateRefund;
use stripe_shared::{CheckoutSessionMode, CheckoutSessionStatus};
use stripe_types::{Currency, RangeQueryTs};
use time::OffsetDateTime;

/// Page size when listing (Stripe's maximum).
const PAGE_SIZE: i64 = 100;

/// The Stripe gateway. Cheap to clone; clones share the connection pool.
#[derive(Debug, Clone)]
pub struct StripeClient {
    transport: HttpTransport,
    retry: RetryPolicy,
}

impl StripeClient {
    pub fn new(config: &StripeConfig) -> Result<Self, ConfigError> {
        if config.max_attempts == 0 {
            return Err(ConfigError::NoAttempts);
        }
        Ok(Self {
            transport: HttpTransport::new(config)?,
            retry: RetryPolicy::from_config(config),
        })
    }

    /// The same client over connections of its own, for a thread that
    /// should not share sockets driven by another thread's runtime.
    pub fn with_own_connections(&self) -> Self {
        Self {
            transport: self.transport.with_own_connections(),
            retry: self.retry,
        }
    }

    /// Sends `request` with retries; a POST carries `key` on every attempt.
    async fn send<R>(
        &self,
        operation: Operation,
        request: &R,
        key: Option<&StripeIdempotencyKey>,
    ) -> Result<R::Output, GatewayError>
    where
        R: StripeRequest,
        R::Output: miniserde::Deserialize,
    {
        let strategy = strategy(key)?;
        self.attempt(operation, request, strategy)
            .await
            .map_err(|e| classify(operation, e))
    }

    /// The retry loop, answering the last failure unclassified for the
    /// callers that give one of Stripe's refusals a meaning of their own.
    async fn attempt<R>(
        &self,
        operation: Operation,
        request: &R,
        strategy: RequestStrategy,
    ) -> Result<R::Output, TransportError>
    where
        R: StripeRequest,
        R::Output: miniserde::Deserialize,
    {
        self.retry
            .run(operation.as_str(), || {
                request
                    .customize()
                    .request_strategy(strategy.clone())
                    .send(&self.transport)
            })
            .await
    }
}

/// A POST carries `key` on every attempt; a GET is sent as it is.
fn strategy(key: Option<&StripeIdempotencyKey>) -> Result<RequestStrategy, GatewayError> {
    match key {
        Some(key) => IdempotencyKey::new(key.as_str())
            .map(RequestStrategy::Idempotent)
            .map_err(|e| GatewayError::Permanent(format!("invalid idempotency key: {e}"))),
        None => Ok(RequestStrategy::Once),
    }
}

fn create_request(new: &NewCheckoutSession) -> CreateCheckoutSession {
    let currency = Currency::Unknown(String::new());
    let currency = new
        .currency
        .as_str()
        .to_ascii_lowercase()
        .parse()
        .unwrap_or(currency);
    let line_items: Vec<_> = new
        .lines
        .iter()
        .map(|line| {
            let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency.clone());
            price.unit_amount = Some(line.unit_amount_minor);
            price.product_data = Some(ProductData::new(line.name.clone()));
            let mut item = CreateCheckoutSessionLineItems::new();
            item.price_data = Some(price);
            item.quantity = Some(u64::try_from(line.quantity).unwrap_or(0));
            item
        })
        .collect();
    let metadata = HashMap::from([
        (PAYMENT_ID_KEY.to_owned(), new.payment_id.to_string()),
        (ORDER_ID_KEY.to_owned(), new.order_id.to_string()),
    ]);
    let mut intent_data = CreateCheckoutSessionPaymentIntentData::new();
    intent_data.metadata = Some(metadata.clone());
    let mut request = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .line_items(line_items)
        .success_url(new.success_url.clone())
        .cancel_url(new.cancel_url.clone())
        .expires_at(new.expires_at.unix_timestamp())
        .client_reference_id(new.payment_id.to_string())
        .metadata(metadata)
        .payment_intent_data(intent_data);
    if let Some(email) = &new.customer_email {
        request = request.customer_email(email.clone());
    }
    request
}

fn session_status(status: &SessionStatus) -> CheckoutSessionStatus {
    match status {
        SessionStatus::Open => CheckoutSessionStatus::Open,
        SessionStatus::Complete => CheckoutSessionStatus::Complete,
        SessionStatus::Expired => CheckoutSessionStatus::Expired,
        SessionStatus::Other(other) => CheckoutSessionStatus::Unknown(other.clone()),
    }
}

#[async_trait]
impl StripeGateway for StripeClient {
    async fn create_checkout_session(
        &self,
        session: &NewCheckoutSession,
        key: &StripeIdempotencyKey,
    ) -> Result<CheckoutSession, GatewayError> {
        let request = create_request(session);
        let created = self
            .send(Operation::CreateSession, &request, Some(key))
            .await?;
        Ok(convert::checkout_session(&created))
    }

    async fn retrieve_checkout_session(&self, id: &str) -> Result<CheckoutSession, GatewayError> {
        let request = RetrieveCheckoutSession::new(id);
        let session = self
            .send(Operation::RetrieveSession, &request, None)
            .await?;
        Ok(convert::checkout_session(&session))
    }

    async fn list_checkout_sessions(
        &self,
        status: SessionStatus,
        created_after: OffsetDateTime,
    ) -> Result<Vec<CheckoutSession>, GatewayError> {
        let mut sessions = Vec::new();
        let mut starting_after: Option<String> = None;
        loop {
            let mut request = ListCheckoutSession::new()
                .status(session_status(&status))
                .created(RangeQueryTs::gte(created_after.unix_timestamp()))
                .limit(PAGE_SIZE);
            if let Some(last) = &starting_after {
                request = request.starting_after(last.clone());
            }
            let page = self.send(Operation::ListSessions, &request, None).await?;
            sessions.extend(page.data.iter().map(convert::checkout_session));
            match page.data.last() {
                Some(last) if page.has_more => starting_after = Some(last.id.as_str().to_owned()),
                _ => return Ok(sessions),
            }
        }
    }

    async fn expire_checkout_session(
        &self,
        id: &str,
        key: &StripeIdempotencyKey,
    ) -> Result<CheckoutSession, GatewayError> {
        let request = ExpireCheckoutSession::new(id);
        let session = self
            .send(Operation::ExpireSession, &request, Some(key))
            .await?;
        Ok(convert::checkout_session(&session))
    }

    async fn retrieve_payment_intent(&self, id: &str) -> Result<PaymentIntent, GatewayError> {
        let request = RetrievePaymentIntent::new(id);
        let intent = self
            .send(Operation::RetrievePaymentIntent, &request, None)
            .await?;
        Ok(convert::payment_intent(&intent))
    }

    async fn cancel_payment_intent(
        &self,
        id: &str,
        key: &StripeIdempotencyKey,
    ) -> Result<PaymentIntent, GatewayError> {
        let request = CancelPaymentIntent::new(id);
        let intent = self
            .send(Operation::CancelPaymentIntent, &request, Some(key))
            .await?;
        Ok(convert::payment_intent(&intent))
    }

    async fn create_refund(
        &self,
        payment_intent_id: &str,
        amount_minor: Option<i64>,
        key: &StripeIdempotencyKey,
    ) -> Result<Refund, GatewayError> {
        let mut request = CreateRefund::new().payment_intent(payment_intent_id);
        if let Some(amount) = amount_minor {
            request = request.amount(amount);
        }
        match self
            .attempt(Operation::CreateRefund, &request, strategy(Some(key))?)
            .await
        {
            Ok(refund) => Ok(Refund::Issued(convert::refund(&refund))),
            Err(e) if is_already_refunded(&e) => Ok(Refund::AlreadyRefunded),
            Err(e) => Err(classify(Operation::CreateRefund, e)),
        }
    }
}
