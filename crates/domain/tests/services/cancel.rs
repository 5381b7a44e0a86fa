use crate::helpers::{Ctx, user_actor};
use async_trait::async_trait;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use domain::DomainError;
use domain::audit::{self, Actor, AuditSource, Entity};
use domain::gateway::{
    CheckoutSession, GatewayError, NewCheckoutSession, PaymentIntent, Refund, SessionStatus,
    StripeGateway, StripeIdempotencyKey,
};
use domain::models::payment::Payment;
use domain::services::{cancel_payment, handle_session_expired};
use domain::testing::FakeStripe;
use domain::{OrderStatus, PaymentStatus};
use std::sync::Arc;
use time::OffsetDateTime;

#[tokio::test]
async fn cancel_releases_stock_and_expires_the_stripe_session() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(3, None).await;
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 3);

    let outcome = cancel_payment(
        &mut *ctx.db.conn().await,
        ctx.stripe.as_ref(),
        payment.id,
        &user_actor(),
    )
    .await
    .unwrap();

    assert_eq!(outcome.payment.status, PaymentStatus::Cancelled);
    assert_eq!(outcome.order_status, OrderStatus::Cancelled);
    assert!(!outcome.already_cancelled);
    assert!(outcome.stripe_warning.is_none());
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 0);
    let session = ctx
        .stripe
        .session(payment.stripe_session_id.as_deref().unwrap())
        .unwrap();
    assert_eq!(session.status, SessionStatus::Expired);
    assert_eq!(
        outcome.payment.stripe_session_status.as_deref(),
        Some("expired")
    );
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn cancel_is_idempotent() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(2, None).await;
    let mut conn = ctx.db.conn().await;
    cancel_payment(&mut conn, ctx.stripe.as_ref(), payment.id, &user_actor())
        .await
        .unwrap();
    let again = cancel_payment(&mut conn, ctx.stripe.as_ref(), payment.id, &user_actor())
        .await
        .unwrap();

    assert!(again.already_cancelled);
    assert_eq!(again.payment.status, PaymentStatus::Cancelled);
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 0);
    let history = audit::history(&mut conn, Entity::Payment(payment.id.0))
        .await
        .unwrap();
    assert_eq!(history.len(), 1, "one transition, audited once");
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn every_transition_is_audited_with_source_and_actor() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    let mut conn = ctx.db.conn().await;
    cancel_payment(&mut conn, ctx.stripe.as_ref(), payment.id, &user_actor())
        .await
        .unwrap();

    let payment_rows = audit::history(&mut conn, Entity::Payment(payment.id.0))
        .await
        .unwrap();
    let order_rows = audit::history(&mut conn, Entity::Order(payment.order_id.0))
        .await
        .unwrap();
    for rows in [&payment_rows, &order_rows] {
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].from_status.as_str(), rows[0].to_status.as_str()),
            ("PENDING", "CANCELLED")
        );
        assert_eq!(rows[0].source, "user");
        assert_eq!(rows[0].actor, "ana@example.com");
    }
}

#[tokio::test]
async fn stripe_down_still_cancels_locally_with_a_warning_and_remembers_the_stripe_side() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(4, None).await;
    ctx.stripe.set_unreachable(true);

    let outcome = cancel_payment(
        &mut *ctx.db.conn().await,
        ctx.stripe.as_ref(),
        payment.id,
        &user_actor(),
    )
    .await
    .unwrap();

    assert_eq!(outcome.payment.status, PaymentStatus::Cancelled);
    assert!(outcome.stripe_warning.is_some());
    assert!(
        outcome.payment.stripe_expire_pending,
        "the sweep must retry the Stripe side"
    );
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 0);
    let session = ctx
        .stripe
        .session(payment.stripe_session_id.as_deref().unwrap())
        .unwrap();
    assert_eq!(session.status, SessionStatus::Open);
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn cancelling_a_paid_session_records_completed_and_refuses() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(2, None).await;
    ctx.stripe
        .pay(payment.stripe_session_id.as_deref().unwrap());

    let result = cancel_payment(
        &mut *ctx.db.conn().await,
        ctx.stripe.as_ref(),
        payment.id,
        &user_actor(),
    )
    .await;

    assert!(matches!(
        result,
        Err(DomainError::AlreadyPaid {
            status: PaymentStatus::Completed,
            ..
        })
    ));
    assert_eq!(
        ctx.payment(payment.id).await.status,
        PaymentStatus::Completed
    );
    assert_eq!(
        ctx.units_sold(ctx.fx.product).await,
        2,
        "sold stock stays sold"
    );
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn coupon_redemption_is_released_once_and_cart_coupons_cleared() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, Some("WELCOME10")).await;
    assert_eq!(payment.amount_minor, 900, "10% off 10.00");
    let mut conn = ctx.db.conn().await;
    assert_eq!(coupon_uses(&mut conn).await, 1);
    assert!(cart_coupon(&mut conn, &ctx).await.is_some());

    cancel_payment(&mut conn, ctx.stripe.as_ref(), payment.id, &user_actor())
        .await
        .unwrap();
    cancel_payment(&mut conn, ctx.stripe.as_ref(), payment.id, &user_actor())
        .await
        .unwrap();

    assert_eq!(coupon_uses(&mut conn).await, 0);
    assert!(cart_coupon(&mut conn, &ctx).await.is_none());
    ctx.assert_invariants().await;
}

async fn coupon_uses(conn: &mut diesel_async::AsyncPgConnection) -> i32 {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use domain::schema::coupons;
    coupons::table
        .select(coupons::times_used)
        .first(conn)
        .await
        .unwrap()
}

async fn cart_coupon(conn: &mut diesel_async::AsyncPgConnection, ctx: &Ctx) -> Option<i64> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use domain::schema::carts;
    carts::table
        .find(ctx.fx.user)
        .select(carts::coupon_id)
        .first::<Option<domain::CouponId>>(conn)
        .await
        .unwrap()
        .map(|c| c.0)
}

/// Stripe as seen when its `checkout.session.expired` webhook is
/// delivered and processed before the expire call even returns: the
/// webhook's release commits first.
struct WebhookWinsTheRace {
    inner: Arc<FakeStripe>,
    db: String,
}

#[async_trait]
impl StripeGateway for WebhookWinsTheRace {
    async fn create_checkout_session(
        &self,
        session: &NewCheckoutSession,
        key: &StripeIdempotencyKey,
    ) -> Result<CheckoutSession, GatewayError> {
        self.inner.create_checkout_session(session, key).await
    }

    async fn retrieve_checkout_session(&self, id: &str) -> Result<CheckoutSession, GatewayError> {
        self.inner.retrieve_checkout_session(id).await
    }

    async fn list_checkout_sessions(
        &self,
        status: SessionStatus,
        created_after: OffsetDateTime,
    ) -> Result<Vec<CheckoutSession>, GatewayError> {
        self.inner
            .list_checkout_sessions(status, created_after)
            .await
    }

    async fn expire_checkout_session(
        &self,
        id: &str,
        key: &StripeIdempotencyKey,
    ) -> Result<CheckoutSession, GatewayError> {
        let session = self.inner.expire_checkout_session(id, key).await?;
        let mut conn = AsyncPgConnection::establish(&self.db).await.expect("db");
        let payment = session.payment_id.expect("metadata names the payment");
        let webhook = Actor::new(AuditSource::Webhook, "evt_expired");
        handle_session_expired(&mut conn, self.inner.as_ref(), &session.id, &webhook)
            .await
            .expect("the webhook's job cancels");
        assert_eq!(
            Payment::find(&mut conn, payment)
                .await
                .unwrap()
                .unwrap()
                .status,
            PaymentStatus::Cancelled
        );
        Ok(session)
    }

    async fn retrieve_payment_intent(&self, id: &str) -> Result<PaymentIntent, GatewayError> {
        self.inner.retrieve_payment_intent(id).await
    }

    async fn cancel_payment_intent(
        &self,
        id: &str,
        key: &StripeIdempotencyKey,
    ) -> Result<PaymentIntent, GatewayError> {
        self.inner.cancel_payment_intent(id, key).await
    }

    async fn create_refund(
        &self,
        payment_intent_id: &str,
        amount_minor: Option<i64>,
        key: &StripeIdempotencyKey,
    ) -> Result<Refund, GatewayError> {
        self.inner
            .create_refund(payment_intent_id, amount_minor, key)
            .await
    }
}

#[tokio::test]
async fn a_cancel_whose_own_expiry_webhook_releases_first_is_not_told_already_cancelled() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(2, None).await;
    let stripe = WebhookWinsTheRace {
        inner: ctx.stripe.clone(),
        db: ctx.db.url().to_owned(),
    };

    let outcome = cancel_payment(
        &mut *ctx.db.conn().await,
        &stripe,
        payment.id,
        &user_actor(),
    )
    .await
    .unwrap();

    assert_eq!(outcome.payment.status, PaymentStatus::Cancelled);
    assert!(
        !outcome.already_cancelled,
        "the caller asked to cancel an open payment, and it is cancelled"
    );
    assert!(outcome.released.stock.is_empty(), "the webhook released it");
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 0);
    let mut conn = ctx.db.conn().await;
    let history = audit::history(&mut conn, Entity::Payment(payment.id.0))
        .await
        .unwrap();
    assert_eq!(history.len(), 1, "one transition: the webhook's");
    ctx.assert_invariants().await;
}
