//! Checkout (SPEC §5.1): reserve stock and coupon under row locks, create
//! order + payment, open the Stripe Checkout Session, store its mirror.
//! If Stripe cannot open the session, the reservation is given back.

use super::cancel::release;
use crate::audit::{Actor, AuditSource};
use crate::error::DomainError;
use crate::gateway::{
    CheckoutLine, NewCheckoutSession, StripeAction, StripeGateway, StripeIdempotencyKey,
};
use crate::models::coupon::{self, Coupon};
use crate::models::order::{Order, OrderItem};
use crate::models::payment::{NewPayment, Payment, SessionMirror};
use crate::models::product::{Product, Stock};
use crate::states::{OrderStatus, PaymentStatus};
use crate::values::ids::{OrderId, PaymentId, ProductId, UserId};
use crate::values::money::Money;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;

/// Most lines and units one order may hold: a guard against absurd input.
pub const MAX_LINES: usize = 50;
pub const MAX_QUANTITY: i32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutItem {
    pub product_id: ProductId,
    pub quantity: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub user_id: UserId,
    pub customer_email: Option<String>,
    pub items: Vec<CheckoutItem>,
    pub coupon_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSettings {
    /// Stripe accepts 30 min to 24 h.
    pub session_ttl: Duration,
    pub success_url: String,
    pub cancel_url: String,
}

/// Stripe accepts `expires_at` between 30 min and 24 h after *its* creation
/// time, which is a little later than ours: at the exact lower bound the
/// request latency (and a second ticking over) would make Stripe refuse
/// the session. So the lifetime is kept a few seconds inside the bounds —
/// few enough that `expires_at` is still "now + TTL" to anyone reading it.
fn session_lifetime(ttl: Duration) -> Duration {
    const MARGIN: Duration = Duration::from_secs(10);
    ttl.clamp(
        Duration::from_secs(30 * 60) + MARGIN,
        Duration::from_secs(24 * 3600) - MARGIN,
    )
}

/// Quantities per product, merged and checked.
fn parse_items(items: &[CheckoutItem]) -> Result<BTreeMap<ProductId, i32>, DomainError> {
    if items.is_empty() {
        return Err(DomainError::InvalidInput("the order has no items".into()));
    }
    let mut merged = BTreeMap::new();
    for item in items {
        if !(1..=MAX_QUANTITY).contains(&item.quantity) {
            return Err(DomainError::QuantityOutOfRange(item.product_id));
        }
        let total: &mut i32 = merged.entry(item.product_id).or_default();
        *total = total.saturating_add(item.quantity).min(MAX_QUANTITY + 1);
        if *total > MAX_QUANTITY {
            return Err(DomainError::QuantityOutOfRange(item.product_id));
        }
    }
    if merged.len() > MAX_LINES {
        return Err(DomainError::InvalidInput(format!(
            "an order holds at most {MAX_LINES} products"
        )));
    }
    Ok(merged)
}

struct Reserved {
    payment_id: PaymentId,
    order: Order,
    lines: Vec<CheckoutLine>,
}

/// Reserves everything in one transaction; stock rows are taken in product
/// order so concurrent checkouts and releases cannot deadlock.
async fn reserve(
    conn: &mut AsyncPgConnection,
    request: &CheckoutRequest,
    quantities: &BTreeMap<ProductId, i32>,
) -> Result<Reserved, DomainError> {
    conn.transaction(async |conn| {
        let ids: Vec<ProductId> = quantities.keys().copied().collect();
        let products = Product::find_active(conn, &ids).await?;
        let by_id: BTreeMap<_, _> = products.iter().map(|p| (p.id, p)).collect();
        let currency = products
            .first()
            .map(|p| p.currency)
            .ok_or(DomainError::ProductNotFound(ids[0]))?;
        let mut subtotal = Money::zero(currency);
        let mut items = Vec::new();
        let mut lines = Vec::new();
        for (&product_id, &quantity) in quantities {
            let product = by_id
                .get(&product_id)
                .ok_or(DomainError::ProductNotFound(product_id))?;
            if product.currency != currency {
                return Err(DomainError::InvalidInput(
                    "all products of an order must share one currency".into(),
                ));
            }
            if !Stock::reserve(conn, product_id, quantity).await? {
                let available = Stock::find(conn, product_id)
                    .await?
                    .map_or(0, |s| s.available());
                return Err(DomainError::InsufficientStock {
                    product: product_id,
                    requested: quantity,
                    available,
                });
            }
            subtotal = subtotal.checked_add(product.price().checked_mul(i64::from(quantity))?)?;
            lines.push(CheckoutLine {
                name: product.name.clone(),
                unit_amount_minor: product.price_minor,
                quantity: i64::from(quantity),
            });
            items.push((product_id, quantity, product.price_minor));
        }
        let coupon = match request.coupon_code.as_deref().map(str::trim) {
            Some(code) if !code.is_empty() => Some(
                Coupon::redeem(conn, code)
                    .await?
                    .ok_or_else(|| DomainError::InvalidCoupon(code.to_owned()))?,
            ),
            _ => None,
        };
        let discount = match &coupon {
            Some(c) => subtotal.percent(i64::from(c.percent_off))?,
            None => Money::zero(currency),
        };
        let total = subtotal.checked_sub(discount)?;
        let now = OffsetDateTime::now_utc();
        let order = Order {
            id: OrderId::new(),
            user_id: request.user_id,
            status: OrderStatus::Pending,
            coupon_id: coupon.as_ref().map(|c| c.id),
            subtotal_minor: subtotal.minor,
            discount_minor: discount.minor,
            total_minor: total.minor,
            currency,
            created_at: now,
            updated_at: now,
        };
        let items: Vec<OrderItem> = items
            .into_iter()
            .map(|(product_id, quantity, unit_price_minor)| OrderItem {
                order_id: order.id,
                product_id,
                quantity,
                unit_price_minor,
            })
            .collect();
        Order::insert(conn, &order, &items).await?;
        if let Some(c) = &coupon {
            coupon::put_in_cart(conn, request.user_id, c.id).await?;
            // A discount is charged as one line so the lines add up exactly.
            lines = vec![CheckoutLine {
                name: format!("Pedido {} (cupón {})", order.id, c.code),
                unit_amount_minor: total.minor,
                quantity: 1,
            }];
        }
        let payment = Payment::insert(
            conn,
            &NewPayment {
                id: PaymentId::new(),
                user_id: request.user_id,
                order_id: order.id,
                amount_minor: total.minor,
                currency,
                status: PaymentStatus::Pending,
            },
        )
        .await?;
        Ok(Reserved {
            payment_id: payment.id,
            order,
            lines,
        })
    })
    .await
}

/// Creates order, payment and Checkout Session; returns the payment with
/// its session mirror (checkout URL, expiry).
pub async fn checkout(
    conn: &mut AsyncPgConnection,
    gateway: &dyn StripeGateway,
    settings: &CheckoutSettings,
    request: &CheckoutRequest,
) -> Result<Payment, DomainError> {
    let quantities = parse_items(&request.items)?;
    let reserved = reserve(conn, request, &quantities).await?;
    let ttl = time::Duration::try_from(session_lifetime(settings.session_ttl))
        .map_err(|e| DomainError::InvalidInput(e.to_string()))?;
    let new_session = NewCheckoutSession {
        payment_id: reserved.payment_id,
        order_id: reserved.order.id,
        currency: reserved.order.currency,
        lines: reserved.lines,
        customer_email: request.customer_email.clone(),
        success_url: settings.success_url.clone(),
        cancel_url: settings.cancel_url.clone(),
        expires_at: OffsetDateTime::now_utc() + ttl,
    };
    let key = StripeIdempotencyKey::for_action(reserved.payment_id, StripeAction::CreateSession);
    match gateway.create_checkout_session(&new_session, &key).await {
        Ok(session) => {
            Payment::store_mirror(conn, reserved.payment_id, &SessionMirror::from(&session))
                .await?;
            Payment::find(conn, reserved.payment_id)
                .await?
                .ok_or(DomainError::PaymentNotFound(reserved.payment_id))
        }
        Err(e) => {
            tracing::warn!(target: "payments", payment_id = %reserved.payment_id, error = %e,
                "Stripe could not open the checkout session; giving the reservation back");
            let actor = Actor::new(AuditSource::User, "checkout");
            release(conn, reserved.payment_id, &actor, None, None).await?;
            Err(DomainError::Gateway(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(product: i64, quantity: i32) -> CheckoutItem {
        CheckoutItem {
            product_id: ProductId(product),
            quantity,
        }
    }

    #[test]
    fn session_lifetime_stays_inside_stripes_bounds() {
        assert_eq!(
            session_lifetime(Duration::from_secs(1800)),
            Duration::from_secs(1810)
        );
        assert_eq!(
            session_lifetime(Duration::from_secs(3600)),
            Duration::from_secs(3600)
        );
        assert_eq!(
            session_lifetime(Duration::from_secs(86400)),
            Duration::from_secs(86390)
        );
    }

    #[test]
    fn repeated_products_are_merged() {
        let merged = parse_items(&[item(2, 1), item(1, 3), item(2, 4)]).unwrap();
        assert_eq!(
            merged.into_iter().collect::<Vec<_>>(),
            [(ProductId(1), 3), (ProductId(2), 5)]
        );
    }

    #[test]
    fn empty_orders_and_bad_quantities_are_refused() {
        assert!(parse_items(&[]).is_err());
        assert!(parse_items(&[item(1, 0)]).is_err());
        assert!(parse_items(&[item(1, -1)]).is_err());
        assert!(parse_items(&[item(1, MAX_QUANTITY), item(1, 1)]).is_err());
    }
}
