//! Many callers at once on the same rows: the database must serialise them
//! so nothing is released or sold twice.

use crate::helpers::{Ctx, settings, user_actor};
use domain::audit::{Actor, AuditSource};
use domain::services::{cancel_payment, checkout, complete_payment, handle_session_expired};
use domain::{DomainError, PaymentStatus};
use std::sync::Arc;
use tokio::sync::Barrier;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_cancels_of_one_order_release_stock_once() {
    let ctx = Arc::new(Ctx::new(10).await);
    let payment = ctx.checkout(5, Some("WELCOME10")).await;
    let barrier = Arc::new(Barrier::new(50));

    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (ctx, barrier) = (ctx.clone(), barrier.clone());
            tokio::spawn(async move {
                let mut conn = ctx.db.conn().await;
                barrier.wait().await;
                cancel_payment(&mut conn, ctx.stripe.as_ref(), payment.id, &user_actor()).await
            })
        })
        .collect();
    let mut fresh = 0;
    for task in tasks {
        let outcome = task.await.unwrap().expect("every cancel succeeds");
        assert_eq!(outcome.payment.status, PaymentStatus::Cancelled);
        fresh += usize::from(!outcome.released.stock.is_empty());
    }

    assert_eq!(fresh, 1, "exactly one call did the release");
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 0);
    ctx.assert_invariants().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_checkouts_for_the_last_ten_units_sell_exactly_ten() {
    let ctx = Arc::new(Ctx::new(10).await);
    let barrier = Arc::new(Barrier::new(50));

    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (ctx, barrier) = (ctx.clone(), barrier.clone());
            tokio::spawn(async move {
                let mut conn = ctx.db.conn().await;
                barrier.wait().await;
                checkout(
                    &mut conn,
                    ctx.stripe.as_ref(),
                    &settings(),
                    &ctx.request(1, None),
                )
                .await
            })
        })
        .collect();
    let mut sold = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => sold += 1,
            Err(DomainError::InsufficientStock { .. }) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }

    assert_eq!(sold, 10);
    assert_eq!(ctx.units_sold(ctx.fx.product).await, 10);
    ctx.assert_invariants().await;
}

/// The customer pays, Stripe expires the session and the user cancels, all
/// at once. Whichever wins in Stripe decides; the database follows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_racing_expiry_racing_completion_ends_in_one_consistent_state() {
    let ctx = Arc::new(Ctx::new(100).await);
    for round in 0..12 {
        let payment = ctx.checkout(2, None).await;
        let session_id = payment.stripe_session_id.clone().unwrap();
        let barrier = Arc::new(Barrier::new(3));

        let cancel = {
            let (ctx, barrier) = (ctx.clone(), barrier.clone());
            tokio::spawn(async move {
                let mut conn = ctx.db.conn().await;
                barrier.wait().await;
                cancel_payment(&mut conn, ctx.stripe.as_ref(), payment.id, &user_actor())
                    .await
                    .map(drop)
            })
        };
        let pay = {
            let (ctx, barrier, session_id) = (ctx.clone(), barrier.clone(), session_id.clone());
            tokio::spawn(async move {
                let mut conn = ctx.db.conn().await;
                barrier.wait().await;
                // Checking "still open" and paying are one step: the
                // cancel and the expiry race to close the same session.
                let paid = if round % 2 == 0 {
                    ctx.stripe.pay_if_open(&session_id)
                } else {
                    None
                };
                if let Some(session) = paid {
                    let webhook = Actor::new(AuditSource::Webhook, "evt_completed");
                    complete_payment(&mut conn, ctx.stripe.as_ref(), &session, &webhook)
                        .await
                        .map(drop)
                } else {
                    Ok(())
                }
            })
        };
        let expire = {
            let (ctx, barrier) = (ctx.clone(), barrier.clone());
            tokio::spawn(async move {
                let mut conn = ctx.db.conn().await;
                barrier.wait().await;
                ctx.stripe.expire(&session_id);
                let webhook = Actor::new(AuditSource::Webhook, "evt_expired");
                handle_session_expired(&mut conn, ctx.stripe.as_ref(), &session_id, &webhook)
                    .await
                    .map(drop)
            })
        };
        for task in [cancel, pay, expire] {
            match task.await.unwrap() {
                Ok(()) | Err(DomainError::AlreadyPaid { .. }) => {}
                Err(e) => panic!("round {round}: unexpected error {e}"),
            }
        }

        let final_payment = ctx.payment(payment.id).await;
        let stripe = ctx
            .stripe
            .session(&payment.stripe_session_id.unwrap())
            .unwrap();
        if stripe.is_paid() {
            assert_eq!(
                final_payment.status,
                PaymentStatus::Completed,
                "round {round}"
            );
        } else {
            assert_eq!(
                final_payment.status,
                PaymentStatus::Cancelled,
                "round {round}"
            );
        }
        ctx.assert_invariants().await;
    }
}

/// Cancels send every stock release of an order in one pipelined round
/// trip; PostgreSQL must still take the stock rows in product order, the
/// order checkout takes them in, or overlapping orders would deadlock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_cancels_and_checkouts_over_the_same_products_never_deadlock() {
    let ctx = Arc::new(Ctx::new(1_000).await);
    let mut products = vec![ctx.fx.product];
    for sku in ["RACE-B", "RACE-C"] {
        let mut conn = ctx.db.conn().await;
        products.push(domain::testing::seed_product(&mut conn, sku, 500, 1_000).await);
    }
    // Every line set in both orders (A,B,C and C,B,A ...).
    let line_sets: Vec<Vec<_>> = (0..24)
        .map(|i| {
            let mut lines = products.clone();
            lines.rotate_left(i % 3);
            if i % 2 == 1 {
                lines.reverse();
            }
            lines.truncate(2 + i % 2);
            lines
        })
        .collect();
    let request = |lines: &[domain::ProductId], coupon: Option<&str>| {
        let mut request = ctx.request(1, coupon);
        request.items = lines
            .iter()
            .map(|&product_id| domain::services::CheckoutItem {
                product_id,
                quantity: 2,
            })
            .collect();
        request
    };
    let mut to_cancel = Vec::new();
    for (i, lines) in line_sets.iter().enumerate() {
        let coupon = (i % 4 == 0).then_some("WELCOME10");
        let mut conn = ctx.db.conn().await;
        let payment = checkout(
            &mut conn,
            ctx.stripe.as_ref(),
            &settings(),
            &request(lines, coupon),
        )
        .await
        .expect("checkout");
        to_cancel.push(payment.id);
    }
    let requests: Vec<_> = line_sets.iter().map(|lines| request(lines, None)).collect();

    let barrier = Arc::new(Barrier::new(to_cancel.len() + requests.len()));
    let cancels = to_cancel.into_iter().map(|id| {
        let (ctx, barrier) = (ctx.clone(), barrier.clone());
        tokio::spawn(async move {
            let mut conn = ctx.db.conn().await;
            barrier.wait().await;
            cancel_payment(&mut conn, ctx.stripe.as_ref(), id, &user_actor())
                .await
                .map(drop)
        })
    });
    let checkouts = requests.into_iter().map(|request| {
        let (ctx, barrier) = (ctx.clone(), barrier.clone());
        tokio::spawn(async move {
            let mut conn = ctx.db.conn().await;
            barrier.wait().await;
            checkout(&mut conn, ctx.stripe.as_ref(), &settings(), &request)
                .await
                .map(drop)
        })
    });
    let tasks: Vec<_> = cancels.chain(checkouts).collect();
    for task in tasks {
        task.await
            .unwrap()
            .expect("no cancel or checkout fails (no deadlock)");
    }
    ctx.assert_invariants().await;
}
