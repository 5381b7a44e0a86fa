use domain::audit::{Actor, AuditSource};
use domain::models::payment::Payment;
use domain::models::product::Stock;
use domain::services::{CheckoutItem, CheckoutRequest, CheckoutSettings, checkout};
use domain::testing::{FakeStripe, Fixtures, TestDatabase, check_invariants};
use domain::{PaymentId, ProductId};
use std::sync::Arc;
use std::time::Duration;

pub struct Ctx {
    pub db: TestDatabase,
    pub stripe: Arc<FakeStripe>,
    pub fx: Fixtures,
}

pub fn settings() -> CheckoutSettings {
    CheckoutSettings {
        session_ttl: Duration::from_secs(1800),
        success_url: "http://localhost:3000/ok".into(),
        cancel_url: "http://localhost:3000/cancel".into(),
    }
}

pub fn user_actor() -> Actor {
    Actor::new(AuditSource::User, "ana@example.com")
}

impl Ctx {
    pub async fn new(units: i32) -> Self {
        let db = TestDatabase::new().await;
        let fx = Fixtures::seed(&mut *db.conn().await, units).await;
        Self {
            db,
            stripe: Arc::new(FakeStripe::new()),
            fx,
        }
    }

    pub fn request(&self, quantity: i32, coupon: Option<&str>) -> CheckoutRequest {
        CheckoutRequest {
            user_id: self.fx.user,
            customer_email: Some("ana@example.com".into()),
            items: vec![CheckoutItem {
                product_id: self.fx.product,
                quantity,
            }],
            coupon_code: coupon.map(str::to_owned),
        }
    }

    pub async fn checkout(&self, quantity: i32, coupon: Option<&str>) -> Payment {
        checkout(
            &mut *self.db.conn().await,
            self.stripe.as_ref(),
            &settings(),
            &self.request(quantity, coupon),
        )
        .await
        .expect("checkout")
    }

    pub async fn payment(&self, id: PaymentId) -> Payment {
        Payment::find(&mut *self.db.conn().await, id)
            .await
            .unwrap()
            .expect("payment exists")
    }

    pub async fn units_sold(&self, product: ProductId) -> i32 {
        Stock::find(&mut *self.db.conn().await, product)
            .await
            .unwrap()
            .expect("stock row")
            .units_sold
    }

    pub async fn assert_invariants(&self) {
        check_invariants(&mut *self.db.conn().await)
            .await
            .assert_ok();
    }
}
