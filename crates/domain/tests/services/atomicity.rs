//! A transaction that fails midway leaves nothing half-written.

use crate::helpers::{Ctx, user_actor};
use diesel_async::RunQueryDsl;
use domain::PaymentStatus;
use domain::audit::{self, Entity};
use domain::models::payment::Payment;
use domain::services::cancel_payment;

async fn released_rows(ctx: &Ctx) -> i64 {
    use diesel::prelude::*;
    use domain::schema::reservation_releases;
    diesel_async::RunQueryDsl::get_result(
        reservation_releases::table.count(),
        &mut *ctx.db.conn().await,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn failure_after_the_payment_transition_rolls_back_status_audit_and_release() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(3, None).await;
    // The order's audit row cannot be written: the payment's transition and
    // audit row, already written in the same transaction, must vanish too.
    diesel::sql_query(
        "CREATE FUNCTION fail_order_audit() RETURNS trigger AS $$ BEGIN
           IF NEW.entity = 'order' THEN RAISE EXCEPTION 'injected failure'; END IF;
           RETURN NEW; END $$ LANGUAGE plpgsql",
    )
    .execute(&mut *ctx.db.conn().await)
    .await
    .unwrap();
    diesel::sql_query(
        "CREATE TRIGGER fail_order_audit BEFORE INSERT ON audit_log
         FOR EACH ROW EXECUTE FUNCTION fail_order_audit()",
    )
    .execute(&mut *ctx.db.conn().await)
    .await
    .unwrap();

    let mut conn = ctx.db.conn().await;
    let result = cancel_payment(&mut conn, ctx.stripe.as_ref(), payment.id, &user_actor()).await;

    assert!(result.is_err());
    // The failure came in the middle of a pipeline: the connection the
    // rest of it was sent on still answers its own queries.
    let seen = Payment::find(&mut conn, payment.id).await.unwrap().unwrap();
    assert_eq!(seen.status, PaymentStatus::Pending);
    drop(conn);
    assert_eq!(ctx.payment(payment.id).await.status, PaymentStatus::Pending);
    assert_eq!(
        ctx.units_sold(ctx.fx.product).await,
        3,
        "no stock released without the status change"
    );
    assert_eq!(released_rows(&ctx).await, 0);
    let history = audit::history(&mut *ctx.db.conn().await, Entity::Payment(payment.id.0))
        .await
        .unwrap();
    assert!(
        history.is_empty(),
        "no transition without its audit row, and no audit row without it"
    );
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn a_release_that_would_make_stock_negative_aborts_the_whole_cancellation() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(3, None).await;
    diesel::sql_query("UPDATE inventory_stock SET units_sold = 1")
        .execute(&mut *ctx.db.conn().await)
        .await
        .unwrap();

    let result = cancel_payment(
        &mut *ctx.db.conn().await,
        ctx.stripe.as_ref(),
        payment.id,
        &user_actor(),
    )
    .await;

    assert!(result.is_err(), "units_sold may never go below zero");
    assert_eq!(ctx.payment(payment.id).await.status, PaymentStatus::Pending);
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 1);
    assert_eq!(released_rows(&ctx).await, 0);
}
