//! Contract: Stripe's own fixture objects and the emulator's responses
//! deserialize into the same async-stripe types, and webhook events built
//! from the fixtures verify and dispatch to the right kind.

mod support;

use domain::events::{RefundedCharge, StripeEventKind};
use domain::gateway::{Refund, SessionStatus, StripeAction, StripeGateway};
use domain::values::ids::PaymentId;
use serde_json::{Value, json};
use stripe_checkout::checkout_session::RetrieveCheckoutSession;
use stripe_client::transport::HttpTransport;
use stripe_client::webhook;
use stripe_core::payment_intent::RetrievePaymentIntent;
use stripe_emulator::PayOutcome;
use support::*;
use time::OffsetDateTime;

fn fixtures() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fixtures.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn fixture(name: &str) -> Value {
    fixtures()["resources"][name].clone()
}

fn parse<T: miniserde::Deserialize>(value: &Value) -> T {
    miniserde::json::from_str(&value.to_string())
        .unwrap_or_else(|_| panic!("does not deserialize: {value:#}"))
}

#[test]
fn stripes_fixture_objects_deserialize_into_async_stripe_types() {
    let session: stripe_shared::CheckoutSession = parse(&fixture("checkout.session"));
    assert_eq!(session.id.as_str(), fixture("checkout.session")["id"]);
    let intent: stripe_shared::PaymentIntent = parse(&fixture("payment_intent"));
    assert_eq!(intent.amount, 1099);
    let refund: stripe_shared::Refund = parse(&fixture("refund"));
    assert_eq!(refund.amount, 100);
    let charge: stripe_shared::Charge = parse(&fixture("charge"));
    assert_eq!(charge.amount, 100);
}

#[tokio::test]
async fn the_emulators_objects_deserialize_into_the_same_types() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let new = new_session(&emulator);
    let session = client
        .create_checkout_session(&new, &key(new.payment_id, StripeAction::CreateSession))
        .await
        .unwrap();
    emulator
        .pay_session(&session.id, PayOutcome::Succeed)
        .unwrap();
    let transport = HttpTransport::new(&config(emulator.base_url())).unwrap();

    let typed: stripe_shared::CheckoutSession = RetrieveCheckoutSession::new(session.id.as_str())
        .expand(vec!["payment_intent".to_owned()])
        .send(&transport)
        .await
        .unwrap();
    let Some(stripe_types::Expandable::Object(intent)) = &typed.payment_intent else {
        panic!("payment_intent not expanded: {:?}", typed.payment_intent)
    };
    assert_eq!(intent.amount, 3000);
    assert_eq!(intent.metadata["payment_id"], new.payment_id.to_string());

    let intent: stripe_shared::PaymentIntent = RetrievePaymentIntent::new(intent.id.as_str())
        .send(&transport)
        .await
        .unwrap();
    assert_eq!(intent.status.as_str(), "succeeded");

    let refund = client
        .create_refund(
            intent.id.as_str(),
            Some(500),
            &key(new.payment_id, StripeAction::Refund),
        )
        .await
        .unwrap();
    let Refund::Issued(refund) = refund else {
        panic!("a first refund is issued: {refund:?}")
    };
    assert_eq!(refund.amount_minor, 500);

    // Every object the emulator sent in an event parses as well.
    for event in emulator.events() {
        let object = &event["data"]["object"];
        match object["object"].as_str().unwrap() {
            "checkout.session" => drop(parse::<stripe_shared::CheckoutSession>(object)),
            "payment_intent" => drop(parse::<stripe_shared::PaymentIntent>(object)),
            "charge" => {
                let charge: stripe_shared::Charge = parse(object);
                assert_eq!(charge.amount_refunded, 500);
                let listed: stripe_shared::Refund = parse(&object["refunds"]["data"][0]);
                assert_eq!(listed.id.as_str(), refund.id);
            }
            other => panic!("unexpected object {other}"),
        }
    }
}

/// A fixture `event` envelope carrying `object`, signed now.
fn signed_event(type_: &str, object: Value) -> (Vec<u8>, String, OffsetDateTime) {
    let mut event = fixture("event");
    event["type"] = json!(type_);
    event["id"] = json!(format!("evt_{}", type_.replace('.', "_")));
    event["data"] = json!({ "object": object });
    let payload = event.to_string().into_bytes();
    let now = OffsetDateTime::now_utc();
    let header = webhook::sign(&payload, "whsec_contract", now.unix_timestamp());
    (payload, header, now)
}

fn verified_kind(type_: &str, object: Value) -> StripeEventKind {
    let (payload, header, now) = signed_event(type_, object);
    webhook::verify(&payload, &header, "whsec_contract", now).unwrap();
    let event = webhook::parse_event(&payload).unwrap();
    assert_eq!(event.event_type, type_);
    assert_eq!(event.created.unix_timestamp(), 1_234_567_890);
    event.kind
}

type KindCheck = fn(&StripeEventKind) -> bool;

#[test]
fn fixture_events_verify_and_dispatch_to_the_right_kind() {
    let payment = PaymentId::new();
    let mut session = fixture("checkout.session");
    session["metadata"] = json!({ "payment_id": payment.to_string() });
    let mut intent = fixture("payment_intent");
    intent["metadata"] = json!({ "payment_id": payment.to_string() });
    intent["last_payment_error"] =
        json!({ "type": "card_error", "message": "Your card was declined." });
    let mut charge = fixture("charge");
    charge["payment_intent"] = json!("pi_1PgafyB7WZ01zgkWSjxsAJo3");
    charge["amount_refunded"] = json!(100);

    let session_kinds: [(&str, KindCheck); 4] = [
        ("checkout.session.completed", |k| {
            matches!(k, StripeEventKind::SessionCompleted(_))
        }),
        ("checkout.session.async_payment_succeeded", |k| {
            matches!(k, StripeEventKind::SessionAsyncPaymentSucceeded(_))
        }),
        ("checkout.session.async_payment_failed", |k| {
            matches!(k, StripeEventKind::SessionAsyncPaymentFailed(_))
        }),
        ("checkout.session.expired", |k| {
            matches!(k, StripeEventKind::SessionExpired(_))
        }),
    ];
    for (type_, is_expected) in session_kinds {
        let kind = verified_kind(type_, session.clone());
        assert!(is_expected(&kind), "{type_}: {kind:?}");
        let (StripeEventKind::SessionCompleted(s)
        | StripeEventKind::SessionAsyncPaymentSucceeded(s)
        | StripeEventKind::SessionAsyncPaymentFailed(s)
        | StripeEventKind::SessionExpired(s)) = kind
        else {
            unreachable!()
        };
        assert_eq!(s.id, session["id"]);
        assert_eq!(s.status, SessionStatus::Open);
        assert_eq!(s.payment_id, Some(payment));
        assert_eq!(
            s.payment_intent_id.as_deref(),
            Some("pi_1PgafyB7WZ01zgkWSjxsAJo3")
        );
    }

    assert_eq!(
        verified_kind("payment_intent.payment_failed", intent.clone()),
        StripeEventKind::PaymentIntentFailed {
            payment_intent_id: "pi_1PgafyB7WZ01zgkWSjxsAJo3".into(),
            payment_id: Some(payment),
            error_message: Some("Your card was declined.".into()),
        }
    );
    assert_eq!(
        verified_kind("payment_intent.canceled", intent),
        StripeEventKind::PaymentIntentCanceled {
            payment_intent_id: "pi_1PgafyB7WZ01zgkWSjxsAJo3".into(),
            payment_id: Some(payment),
        }
    );
    assert_eq!(
        verified_kind("charge.refunded", charge),
        StripeEventKind::ChargeRefunded(RefundedCharge {
            payment_intent_id: Some("pi_1PgafyB7WZ01zgkWSjxsAJo3".into()),
            amount_minor: 100,
            amount_refunded_minor: 100,
            refunded: false,
        })
    );
    // The fixture's own event (plan.created) is acknowledged and ignored.
    let plan = fixture("event");
    let parsed = webhook::parse_event(plan.to_string().as_bytes()).unwrap();
    assert_eq!(parsed.kind, StripeEventKind::Ignored);
}

#[tokio::test]
async fn every_event_the_emulator_emits_parses_into_its_kind() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let paid = new_session(&emulator);
    let session = client
        .create_checkout_session(&paid, &key(paid.payment_id, StripeAction::CreateSession))
        .await
        .unwrap();
    emulator
        .pay_session(&session.id, PayOutcome::Decline)
        .unwrap();
    emulator
        .pay_session(&session.id, PayOutcome::Succeed)
        .unwrap();
    let intent_id = client
        .retrieve_checkout_session(&session.id)
        .await
        .unwrap()
        .payment_intent_id
        .unwrap();
    client
        .create_refund(
            &intent_id,
            None,
            &key(paid.payment_id, StripeAction::Refund),
        )
        .await
        .unwrap();
    let abandoned = new_session(&emulator);
    let other = client
        .create_checkout_session(
            &abandoned,
            &key(abandoned.payment_id, StripeAction::CreateSession),
        )
        .await
        .unwrap();
    emulator
        .pay_session(&other.id, PayOutcome::Decline)
        .unwrap();
    emulator.advance_clock(3600);

    let kinds: Vec<StripeEventKind> = emulator
        .events()
        .iter()
        .map(|e| webhook::parse_event(e.to_string().as_bytes()).unwrap().kind)
        .collect();

    let names: Vec<&str> = kinds
        .iter()
        .map(|k| match k {
            StripeEventKind::PaymentIntentFailed {
                payment_id,
                error_message,
                ..
            } => {
                assert_eq!(error_message.as_deref(), Some("Your card was declined."));
                assert!(payment_id.is_some());
                "failed"
            }
            StripeEventKind::SessionCompleted(s) => {
                assert!(s.is_paid());
                assert_eq!(s.payment_id, Some(paid.payment_id));
                "completed"
            }
            StripeEventKind::ChargeRefunded(charge) => {
                assert_eq!(
                    charge.payment_intent_id.as_deref(),
                    Some(intent_id.as_str())
                );
                assert_eq!(charge.amount_refunded_minor, 3000);
                assert!(charge.refunded && charge.is_full());
                "refunded"
            }
            StripeEventKind::PaymentIntentCanceled { payment_id, .. } => {
                assert_eq!(*payment_id, Some(abandoned.payment_id));
                "canceled"
            }
            StripeEventKind::SessionExpired(s) => {
                assert_eq!(s.payment_id, Some(abandoned.payment_id));
                "expired"
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        vec![
            "failed",
            "completed",
            "refunded",
            "failed",
            "canceled",
            "expired"
        ]
    );
}
