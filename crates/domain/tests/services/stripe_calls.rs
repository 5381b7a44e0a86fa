//! Every Stripe call is logged and shows on the payment's timeline.

use crate::helpers::{Ctx, settings, user_actor};
use domain::queries::timeline::payment_timeline;
use domain::recorded_gateway::RecordedGateway;
use domain::services::{cancel_payment, checkout};

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
