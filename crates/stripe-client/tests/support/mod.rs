//! Shared set-up: an emulator on a free port and a client with fast retries.

#![allow(dead_code)] // each test binary uses a different part

use domain::gateway::{
    CheckoutLine, CheckoutSession, NewCheckoutSession, StripeAction, StripeGateway,
    StripeIdempotencyKey,
};
use domain::values::ids::{OrderId, PaymentId};
use domain::values::money::Currency;
use secrecy::SecretString;
use std::time::Duration;
use stripe_client::{StripeClient, StripeConfig};
use stripe_emulator::{Emulator, EmulatorConfig, EmulatorHandle, PayOutcome};
use time::OffsetDateTime;

pub async fn emulator() -> EmulatorHandle {
    Emulator::start(EmulatorConfig::for_tests())
        .await
        .expect("emulator starts")
}

/// Per-attempt timeout 500 ms, 3 attempts, backoff 10 ms doubling to at most 2 s.
pub fn config(base_url: &str) -> StripeConfig {
    let mut config = StripeConfig::new(base_url, SecretString::from("sk_test_emulator"));
    config.timeout = Duration::from_millis(500);
    config.max_attempts = 3;
    config.base_backoff = Duration::from_millis(10);
    config.max_backoff = Duration::from_secs(2);
    config
}

pub fn client(emulator: &EmulatorHandle) -> StripeClient {
    StripeClient::new(&config(emulator.base_url())).expect("valid config")
}

/// A session for two lines (2 × 12.50 + 1 × 5.00 USD) expiring in an hour
/// of the emulator's clock.
pub fn new_session(emulator: &EmulatorHandle) -> NewCheckoutSession {
    NewCheckoutSession {
        payment_id: PaymentId::new(),
        order_id: OrderId::new(),
        currency: Currency::USD,
        lines: vec![
            CheckoutLine {
                name: "T-shirt".into(),
                unit_amount_minor: 1250,
                quantity: 2,
            },
            CheckoutLine {
                name: "Sticker [holo]".into(),
                unit_amount_minor: 500,
                quantity: 1,
            },
        ],
        customer_email: Some("buyer@example.com".into()),
        success_url: "http://shop.test/paid?session={CHECKOUT_SESSION_ID}".into(),
        cancel_url: "http://shop.test/cart".into(),
        expires_at: OffsetDateTime::from_unix_timestamp(emulator.now() + 3600).unwrap(),
    }
}

pub fn key(payment: PaymentId, action: StripeAction) -> StripeIdempotencyKey {
    StripeIdempotencyKey::for_action(payment, action)
}

/// The keys the emulator saw on requests to exactly `path`.
pub fn keys_on(emulator: &EmulatorHandle, path: &str) -> Vec<String> {
    emulator
        .idempotency_keys()
        .into_iter()
        .filter(|k| k.path == path)
        .map(|k| k.key)
        .collect()
}

pub fn events_of(emulator: &EmulatorHandle, type_: &str) -> Vec<serde_json::Value> {
    emulator
        .events()
        .into_iter()
        .filter(|e| e["type"] == type_)
        .collect()
}

/// A session created through the client, and what it was created from.
pub async fn created_session(
    emulator: &EmulatorHandle,
    client: &StripeClient,
) -> (NewCheckoutSession, CheckoutSession) {
    let new = new_session(emulator);
    let session = client
        .create_checkout_session(&new, &key(new.payment_id, StripeAction::CreateSession))
        .await
        .expect("session created");
    (new, session)
}

/// The PaymentIntent of a created session the buyer paid with `outcome`.
pub async fn paid_intent(
    emulator: &EmulatorHandle,
    client: &StripeClient,
    outcome: PayOutcome,
) -> (NewCheckoutSession, String) {
    let (new, session) = created_session(emulator, client).await;
    emulator
        .pay_session(&session.id, outcome)
        .expect("session paid");
    let intent_id = client
        .retrieve_checkout_session(&session.id)
        .await
        .expect("session read")
        .payment_intent_id
        .expect("a paid session has an intent");
    (new, intent_id)
}
