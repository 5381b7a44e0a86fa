//! What the database itself refuses, whoever writes.

use crate::helpers::{Ctx, user_actor};
use diesel_async::RunQueryDsl;
use domain::services::cancel_payment;

async fn sql(ctx: &Ctx, query: &str) -> Result<usize, diesel::result::Error> {
    diesel::sql_query(query)
        .execute(&mut *ctx.db.conn().await)
        .await
}

#[tokio::test]
async fn the_database_refuses_transitions_the_state_machine_forbids() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    cancel_payment(
        &mut *ctx.db.conn().await,
        ctx.stripe.as_ref(),
        payment.id,
        &user_actor(),
    )
    .await
    .unwrap();

    assert!(
        sql(&ctx, "UPDATE payments SET status = 'PENDING'")
            .await
            .is_err()
    );
    assert!(
        sql(&ctx, "UPDATE payments SET status = 'COMPLETED'")
            .await
            .is_err()
    );
    assert!(
        sql(&ctx, "UPDATE orders SET status = 'COMPLETED'")
            .await
            .is_err()
    );
    assert!(
        sql(&ctx, "UPDATE payments SET status = 'BOGUS'")
            .await
            .is_err()
    );
    assert_eq!(
        sql(&ctx, "UPDATE payments SET status = 'REFUNDED'")
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn the_audit_log_and_release_ledger_are_append_only() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    cancel_payment(
        &mut *ctx.db.conn().await,
        ctx.stripe.as_ref(),
        payment.id,
        &user_actor(),
    )
    .await
    .unwrap();

    assert!(
        sql(&ctx, "UPDATE audit_log SET actor = 'someone else'")
            .await
            .is_err()
    );
    assert!(sql(&ctx, "DELETE FROM audit_log").await.is_err());
    assert!(sql(&ctx, "TRUNCATE audit_log").await.is_err());
    assert!(sql(&ctx, "DELETE FROM reservation_releases").await.is_err());
    let duplicate = format!(
        "INSERT INTO reservation_releases (order_id, resource, quantity) VALUES ('{}', 'stock:{}', 1)",
        payment.order_id, ctx.fx.product
    );
    assert!(
        sql(&ctx, &duplicate).await.is_err(),
        "a resource is released once"
    );
}

#[tokio::test]
async fn stock_can_never_be_oversold_or_negative() {
    let ctx = Ctx::new(10).await;
    assert!(
        sql(&ctx, "UPDATE inventory_stock SET units_sold = 11")
            .await
            .is_err()
    );
    assert!(
        sql(&ctx, "UPDATE inventory_stock SET units_sold = -1")
            .await
            .is_err()
    );
}
