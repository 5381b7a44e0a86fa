//! The invariant checks themselves catch what they are for: an order
//! cancelled without giving its stock back, a transition missing from the
//! audit chain.

use crate::helpers::Ctx;
use diesel_async::RunQueryDsl;
use domain::testing::check_invariants;

async fn sql(ctx: &Ctx, query: &str) {
    diesel::sql_query(query)
        .execute(&mut *ctx.db.conn().await)
        .await
        .expect("query");
}

#[tokio::test]
async fn a_cancelled_order_that_kept_its_stock_and_an_unaudited_transition_are_reported() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(2, None).await;
    check_invariants(&mut *ctx.db.conn().await)
        .await
        .assert_ok();

    // Cancelled behind the services' back: nothing released, no audit row.
    sql(
        &ctx,
        &format!(
            "UPDATE orders SET status = 'CANCELLED' WHERE id = '{}'",
            payment.order_id
        ),
    )
    .await;
    // An audit row that does not start where the entity was.
    sql(
        &ctx,
        &format!(
            "INSERT INTO audit_log (entity, entity_id, from_status, to_status, source) \
             VALUES ('payment', '{}', 'FAILED', 'PENDING', 'staff')",
            payment.id
        ),
    )
    .await;

    let report = check_invariants(&mut *ctx.db.conn().await).await;
    let all = report.violations.join("\n");
    assert!(all.contains("was not released in full"), "{all}");
    assert!(
        all.contains("but the previous row left it PENDING"),
        "{all}"
    );
}

#[tokio::test]
async fn a_cancelled_order_that_gave_its_stock_back_but_kept_its_coupon_is_reported() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(2, Some("WELCOME10")).await;

    // Cancelled behind the services' back, the stock line released (ledger
    // and count) but not the coupon.
    let (order, product) = (payment.order_id, ctx.fx.product.0);
    for statement in [
        format!("UPDATE orders SET status = 'CANCELLED' WHERE id = '{order}'"),
        format!(
            "INSERT INTO reservation_releases (order_id, resource, quantity) \
             VALUES ('{order}', 'stock:{product}', 2)"
        ),
        format!(
            "UPDATE inventory_stock SET units_sold = units_sold - 2 WHERE product_id = {product}"
        ),
    ] {
        sql(&ctx, &statement).await;
    }

    let report = check_invariants(&mut *ctx.db.conn().await).await;
    let incomplete: Vec<_> = report
        .violations
        .iter()
        .filter(|v| v.contains("was not released in full"))
        .collect();
    assert_eq!(incomplete.len(), 1, "{:?}", report.violations);
    assert!(
        incomplete[0].contains(&format!("coupon:{}", ctx.fx.coupon.0)),
        "{incomplete:?}"
    );
}
