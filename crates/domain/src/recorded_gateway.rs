//! A [`StripeGateway`] that writes every call to `stripe_calls`, so the
//! staff timeline shows what was asked of Stripe and how it answered.
//! Recording never fails a call: a lost log row is logged, not raised.

use crate::db::DbPool;
use crate::gateway::{
    CheckoutSession, GatewayError, NewCheckoutSession, PaymentIntent, Refund, SessionStatus,
    StripeGateway, StripeIdempotencyKey,
};
use crate::models::stripe_call::NewStripeCall;
use crate::values::ids::PaymentId;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Instant;
use time::OffsetDateTime;

pub struct RecordedGateway {
    inner: Arc<dyn StripeGateway>,
    pool: DbPool,
    /// Write every row before the call returns, waiting for a connection.
    always_inline: bool,
}

/// What one call was about.
struct Call<'a> {
    operation: &'static str,
    payment_id: Option<PaymentId>,
    object_id: Option<&'a str>,
    key: Option<&'a StripeIdempotencyKey>,
}

impl RecordedGateway {
    pub fn new(inner: Arc<dyn StripeGateway>, pool: DbPool) -> Self {
        Self {
            inner,
            pool,
            always_inline: false,
        }
    }

    /// Records on a pool of its own that no caller holds across a Stripe
    /// call, so waiting for a connection cannot deadlock; every row is
    /// written before the call returns, and a short-lived process (the
    /// CLI) exits with none left unwritten.
    pub fn on_own_pool(inner: Arc<dyn StripeGateway>, pool: DbPool) -> Self {
        Self {
            inner,
            pool,
            always_inline: true,
        }
    }

    async fn record<T>(
        &self,
        call: Call<'_>,
        object_of: impl Fn(&T) -> Option<String>,
        result: Result<T, GatewayError>,
        started: Instant,
    ) -> Result<T, GatewayError> {
        let took = started.elapsed();
        let row = NewStripeCall {
            payment_id: call
                .payment_id
                .or_else(|| call.key.and_then(StripeIdempotencyKey::payment_id)),
            operation: call.operation.to_owned(),
            object_id: call
                .object_id
                .map(str::to_owned)
                .or_else(|| result.as_ref().ok().and_then(&object_of)),
            idempotency_key: call.key.map(|k| k.as_str().to_owned()),
            outcome: result
                .as_ref()
                .err()
                .map_or("ok", GatewayError::kind)
                .to_owned(),
            error: result.as_ref().err().map(ToString::to_string),
            duration_ms: i32::try_from(took.as_millis()).unwrap_or(i32::MAX),
            created_at: OffsetDateTime::now_utc() - took,
        };
        // The caller usually holds a pooled connection across the Stripe
        // call (cancel, sweep). Waiting here for a second one deadlocked the
        // pool under load: with N connections and N concurrent cancels all
        // N waited for a recording connection until the pool's timeout
        // (4.5 cancels/s at concurrency 32, issue 9). When no connection is
        // idle the row is written in the background instead, as soon as
        // one frees up; otherwise inline, before the call returns.
        if !self.always_inline && self.pool.state().idle_connections == 0 {
            let pool = self.pool.clone();
            let operation = call.operation;
            tokio::spawn(async move { write_call(&pool, &row, operation).await });
        } else {
            write_call(&self.pool, &row, call.operation).await;
        }
        result
    }
}

async fn write_call(pool: &DbPool, row: &NewStripeCall, operation: &str) {
    let written = match pool.get().await {
        Ok(mut conn) => row.insert(&mut conn).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = written {
        tracing::warn!(target: "payments", operation, error = %e,
            "could not record a Stripe call");
    }
}

fn none<T>(_: &T) -> Option<String> {
    None
}

#[async_trait]
impl StripeGateway for RecordedGateway {
    async fn create_checkout_session(
        &self,
        session: &NewCheckoutSession,
        key: &StripeIdempotencyKey,
    ) -> Result<CheckoutSession, GatewayError> {
        let started = Instant::now();
        let result = self.inner.create_checkout_session(session, key).await;
        let call = Call {
            operation: "create_checkout_session",
            payment_id: Some(session.payment_id),
            object_id: None,
            key: Some(key),
        };
        self.record(
            call,
            |s: &CheckoutSession| Some(s.id.clone()),
            result,
            started,
        )
        .await
    }

    async fn retrieve_checkout_session(&self, id: &str) -> Result<CheckoutSession, GatewayError> {
        let started = Instant::now();
        let result = self.inner.retrieve_checkout_session(id).await;
        let call = Call {
            operation: "retrieve_checkout_session",
            payment_id: None,
            object_id: Some(id),
            key: None,
        };
        self.record(call, none, result, started).await
    }

    async fn list_checkout_sessions(
        &self,
        status: SessionStatus,
        created_after: OffsetDateTime,
    ) -> Result<Vec<CheckoutSession>, GatewayError> {
        // Lists concern no single payment: not worth a row each.
        self.inner
            .list_checkout_sessions(status, created_after)
            .await
    }

    async fn expire_checkout_session(
        &self,
        id: &str,
        key: &StripeIdempotencyKey,
    ) -> Result<CheckoutSession, GatewayError> {
        let started = Instant::now();
        let result = self.inner.expire_checkout_session(id, key).await;
        let call = Call {
            operation: "expire_checkout_session",
            payment_id: None,
            object_id: Some(id),
            key: Some(key),
        };
        self.record(call, none, result, started).await
    }

    async fn retrieve_payment_intent(&self, id: &str) -> Result<PaymentIntent, GatewayError> {
        let started = Instant::now();
        let result = self.inner.retrieve_payment_intent(id).await;
        let call = Call {
            operation: "retrieve_payment_intent",
            payment_id: None,
            object_id: Some(id),
            key: None,
        };
        self.record(call, none, result, started).await
    }

    async fn cancel_payment_intent(
        &self,
        id: &str,
        key: &StripeIdempotencyKey,
    ) -> Result<PaymentIntent, GatewayError> {
        let started = Instant::now();
        let result = self.inner.cancel_payment_intent(id, key).await;
        let call = Call {
            operation: "cancel_payment_intent",
            payment_id: None,
            object_id: Some(id),
            key: Some(key),
        };
        self.record(call, none, result, started).await
    }

    async fn create_refund(
        &self,
        payment_intent_id: &str,
        amount_minor: Option<i64>,
        key: &StripeIdempotencyKey,
    ) -> Result<Refund, GatewayError> {
        let started = Instant::now();
        let result = self
            .inner
            .create_refund(payment_intent_id, amount_minor, key)
            .await;
        let call = Call {
            operation: "create_refund",
            payment_id: None,
            object_id: Some(payment_intent_id),
            key: Some(key),
        };
        self.record(call, none, result, started).await
    }
}
