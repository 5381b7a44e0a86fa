//! Per-test isolation: a database, a Redis key prefix and an emulator.

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use diesel_async::RunQueryDsl;
use domain::models::payment::Payment;
use domain::schema::payments;
use domain::services::{CheckoutItem, CheckoutRequest, CheckoutSettings, checkout};
use domain::testing::{Fixtures, TestDatabase};
use manage::services::QueueOpts;
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::time::Duration;
use stripe_client::{StripeClient, StripeConfig};
use stripe_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use time::OffsetDateTime;
use worker::JobQueue;
use worker::testing::purge_redis;

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .or_else(|_| std::env::var("REDIS_URL"))
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub struct TestEnv {
    pub db: TestDatabase,
    pub emulator: EmulatorHandle,
    pub gateway: StripeClient,
    pub redis_url: String,
    pub prefix: String,
    pub fixtures: Fixtures,
}

impl TestEnv {
    pub async fn new() -> Self {
        let db = TestDatabase::new().await;
        let emulator = Emulator::start(EmulatorConfig::for_tests())
            .await
            .expect("emulator starts");
        let mut config =
            StripeConfig::new(emulator.base_url(), SecretString::from("sk_test_manage"));
        config.timeout = Duration::from_secs(5);
        config.base_backoff = Duration::from_millis(10);
        let gateway = StripeClient::new(&config).expect("valid Stripe config");
        let fixtures = Fixtures::seed(&mut *db.conn().await, 100).await;
        Self {
            db,
            emulator,
            gateway,
            redis_url: redis_url(),
            prefix: format!("test-manage-{}:", uuid::Uuid::now_v7().simple()),
            fixtures,
        }
    }

    pub fn queue_opts(&self) -> QueueOpts {
        QueueOpts {
            redis_url: self.redis_url.clone(),
            queue_prefix: self.prefix.clone(),
        }
    }

    pub async fn queue(&self) -> JobQueue {
        self.queue_opts().connect().await.expect("Redis reachable")
    }

    /// A checkout through the emulator: an open session, reserved stock.
    pub async fn checkout(&self) -> Payment {
        let settings = CheckoutSettings {
            session_ttl: Duration::from_secs(1900),
            success_url: "http://shop.test/ok".into(),
            cancel_url: "http://shop.test/cart".into(),
        };
        let request = CheckoutRequest {
            user_id: self.fixtures.user,
            customer_email: Some("ana@example.com".into()),
            items: vec![CheckoutItem {
                product_id: self.fixtures.product,
                quantity: 2,
            }],
            coupon_code: None,
        };
        checkout(
            &mut *self.db.conn().await,
            &self.gateway,
            &settings,
            &request,
        )
        .await
        .expect("checkout")
    }

    pub async fn payment(&self, payment: &Payment) -> Payment {
        Payment::find(&mut *self.db.conn().await, payment.id)
            .await
            .expect("query")
            .expect("payment exists")
    }

    /// Makes the payment's session look expired on our side.
    pub async fn backdate_expiry(&self, payment: &Payment) {
        let past = OffsetDateTime::now_utc() - time::Duration::minutes(5);
        diesel::update(payments::table.find(payment.id))
            .set(payments::expires_at.eq(past))
            .execute(&mut *self.db.conn().await)
            .await
            .expect("backdate");
    }

    /// Every row of every table, sorted, as text: equal dumps mean nothing
    /// in the database changed.
    pub async fn dump_tables(&self) -> BTreeMap<String, String> {
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = Text)]
            table_name: String,
        }
        #[derive(QueryableByName)]
        struct Dump {
            #[diesel(sql_type = Nullable<Text>)]
            dump: Option<String>,
        }
        let mut conn = self.db.conn().await;
        let names: Vec<Name> = diesel::sql_query(
            "SELECT table_name::text AS table_name FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
        )
        .load(&mut *conn)
        .await
        .expect("list tables");
        let mut dumps = BTreeMap::new();
        for Name { table_name } in names {
            let query = format!(
                "SELECT string_agg(row_to_json(t)::text, E'\\n' ORDER BY row_to_json(t)::text) \
                 AS dump FROM \"{table_name}\" t"
            );
            let dump: Dump = diesel::sql_query(query)
                .get_result(&mut *conn)
                .await
                .expect("dump table");
            dumps.insert(table_name, dump.dump.unwrap_or_default());
        }
        dumps
    }

    /// The test's Redis keys and their types.
    pub async fn redis_keys(&self) -> BTreeMap<String, String> {
        let mut conn = self.queue().await.redis();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut conn)
            .await
            .expect("keys");
        let mut typed = BTreeMap::new();
        for key in keys {
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .expect("type");
            typed.insert(key, kind);
        }
        typed
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let (url, prefix) = (self.redis_url.clone(), self.prefix.clone());
        let _ = std::thread::spawn(move || purge_redis(&url, &prefix)).join();
    }
}
