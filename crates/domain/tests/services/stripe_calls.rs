//! Every Stripe call is logged and shows on the payment's timeline.

use crate::helpers::{Ctx, settings, user_actor};
use domain::models::stripe_call::{NewStripeCall, StripeCall};
use domain::queries::timeline::payment_timeline;
use domain::recorded_gateway::RecordedGateway;
use domain::services::{cancel_payment, checkout};
use time::{Duration, OffsetDateTime};

#[tokio::test]
async fn stripe_calls_are_recorded_with_their_keys_and_shown_on_the_timeline() {
    let ctx = Ctx::new(10).await;
    let gateway = RecordedGateway::new(ctx.stripe.clone(), ctx.db.pool().clone());
    let mut conn = ctx.db.conn().await;
    let payment = checkout(&mut conn, &gateway, &settings(), &ctx.request(1, None))
        .await
        .unwrap();
    cancel_payment(&mut conn, &gateway, payment.id, &user_actor())
        .await
        .unwrap();

    // A call made while no pooled connection is idle is recorded in the
    // background (RecordedGateway): wait for both rows, not for luck.
    let payment = ctx.payment(payment.id).await;
    let mut timeline = Vec::new();
    for _ in 0..50 {
        timeline = payment_timeline(&mut conn, &payment).await.unwrap();
        if timeline.iter().filter(|e| e.kind == "stripe_call").count() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let calls: Vec<_> = timeline
        .iter()
        .filter(|e| e.kind == "stripe_call")
        .collect();

    let operations: Vec<_> = calls
        .iter()
        .map(|c| c.data["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        operations,
        ["create_checkout_session", "expire_checkout_session"]
    );
    assert_eq!(
        calls[1].data["idempotency_key"],
        format!("payment:{}:expire_session", payment.id)
    );
    assert!(calls.iter().all(|c| c.data["outcome"] == "ok"));
}

/// A call recorded in the background (no idle pooled connection) may be
/// written after a later call's row: the log keeps the order the calls
/// were made in.
#[tokio::test]
async fn calls_are_listed_in_the_order_they_were_made_not_written() {
    let ctx = Ctx::new(10).await;
    let mut conn = ctx.db.conn().await;
    let payment = checkout(
        &mut conn,
        ctx.stripe.as_ref(),
        &settings(),
        &ctx.request(1, None),
    )
    .await
    .unwrap();
    let made = OffsetDateTime::now_utc();
    let call = |operation: &str, created_at| NewStripeCall {
        payment_id: Some(payment.id),
        operation: operation.to_owned(),
        object_id: None,
        idempotency_key: None,
        outcome: "ok".to_owned(),
        error: None,
        duration_ms: 1,
        created_at,
    };
    call("expire_checkout_session", made)
        .insert(&mut conn)
        .await
        .unwrap();
    call("create_checkout_session", made - Duration::seconds(1))
        .insert(&mut conn)
        .await
        .unwrap();

    let timeline = payment_timeline(&mut conn, &ctx.payment(payment.id).await)
        .await
        .unwrap();
    let operations: Vec<_> = timeline
        .iter()
        .filter(|e| e.kind == "stripe_call")
        .map(|c| c.data["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        operations,
        ["create_checkout_session", "expire_checkout_session"]
    );
    let listed: Vec<_> = StripeCall::for_payment(&mut conn, payment.id, &[])
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.operation)
        .collect();
    assert_eq!(
        listed,
        ["create_checkout_session", "expire_checkout_session"]
    );
}
