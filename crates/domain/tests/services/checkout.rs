use crate::helpers::{Ctx, settings};
use domain::DomainError;
use domain::services::{CheckoutItem, checkout};
use domain::{PaymentStatus, ProductId};

#[tokio::test]
async fn checkout_reserves_stock_and_stores_the_session_mirror() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(3, None).await;

    assert_eq!(payment.status, PaymentStatus::Pending);
    assert_eq!(payment.amount_minor, 3000);
    assert_eq!(payment.amount().amount_string(), "30.00");
    assert!(payment.stripe_session_id.is_some());
    assert!(payment.stripe_checkout_url.is_some());
    assert_eq!(payment.stripe_session_status.as_deref(), Some("open"));
    assert!(payment.expires_at.is_some());
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 3);
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn insufficient_stock_is_an_error_and_reserves_nothing() {
    let ctx = Ctx::new(2).await;
    let result = checkout(
        &mut *ctx.db.conn().await,
        ctx.stripe.as_ref(),
        &settings(),
        &ctx.request(3, Some("WELCOME10")),
    )
    .await;

    assert!(matches!(
        result,
        Err(DomainError::InsufficientStock {
            requested: 3,
            available: 2,
            ..
        })
    ));
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 0);
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn unknown_products_and_coupons_are_refused() {
    let ctx = Ctx::new(5).await;
    let mut request = ctx.request(1, None);
    request.items.push(CheckoutItem {
        product_id: ProductId(999_999),
        quantity: 1,
    });
    let result = checkout(
        &mut *ctx.db.conn().await,
        ctx.stripe.as_ref(),
        &settings(),
        &request,
    )
    .await;
    assert!(matches!(
        result,
        Err(DomainError::ProductNotFound(ProductId(999_999)))
    ));

    let result = checkout(
        &mut *ctx.db.conn().await,
        ctx.stripe.as_ref(),
        &settings(),
        &ctx.request(1, Some("NOPE")),
    )
    .await;
    assert!(matches!(result, Err(DomainError::InvalidCoupon(_))));
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 0);
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn stripe_down_at_checkout_gives_the_reservation_back() {
    let ctx = Ctx::new(5).await;
    ctx.stripe.set_unreachable(true);
    let result = checkout(
        &mut *ctx.db.conn().await,
        ctx.stripe.as_ref(),
        &settings(),
        &ctx.request(2, Some("WELCOME10")),
    )
    .await;

    assert!(matches!(result, Err(DomainError::Gateway(e)) if e.is_transient()));
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 0);
    ctx.assert_invariants().await;
}
