//! Every `StripeGateway` method through the real client against the
//! emulator over HTTP, including injected faults.

mod support;

use domain::gateway::{
    GatewayError, IssuedRefund, Refund, SessionPaymentStatus, SessionStatus, StripeAction,
    StripeGateway,
};
use std::time::{Duration, Instant};
use stripe_client::{StripeClient, StripeConfig};
use stripe_emulator::{Fault, PayOutcome};
use support::*;
use time::OffsetDateTime;

fn fault(count: u32, status: Option<u16>, path_prefix: &str) -> Fault {
    Fault {
        count,
        status,
        retry_after: None,
        delay_ms: 0,
        path_prefix: Some(path_prefix.into()),
        method: None,
    }
}

#[tokio::test]
async fn create_checkout_session_sends_lines_metadata_and_intent_metadata() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let new = new_session(&emulator);

    let session = client
        .create_checkout_session(&new, &key(new.payment_id, StripeAction::CreateSession))
        .await
        .unwrap();

    assert!(session.id.starts_with("cs_test_"));
    assert_eq!(session.status, SessionStatus::Open);
    assert_eq!(session.payment_status, SessionPaymentStatus::Unpaid);
    assert_eq!(session.payment_id, Some(new.payment_id));
    assert_eq!(session.expires_at, Some(new.expires_at));
    assert_eq!(
        session.payment_intent_id, None,
        "no PaymentIntent before the customer pays"
    );
    assert!(
        session
            .url
            .as_deref()
            .unwrap()
            .ends_with(&format!("/pay/{}", session.id))
    );

    emulator
        .pay_session(&session.id, PayOutcome::Succeed)
        .unwrap();
    let completed = &events_of(&emulator, "checkout.session.completed")[0]["data"]["object"];
    assert_eq!(completed["amount_total"], 3000);
    assert_eq!(completed["currency"], "usd");
    assert_eq!(completed["customer_email"], "buyer@example.com");
    assert_eq!(completed["client_reference_id"], new.payment_id.to_string());
    assert_eq!(completed["metadata"]["order_id"], new.order_id.to_string());
    let intent_id = completed["payment_intent"].as_str().unwrap();
    let keys = keys_on(&emulator, "/v1/checkout/sessions");
    assert_eq!(
        keys,
        vec![format!("payment:{}:create_session", new.payment_id)]
    );

    // payment_intent_data.metadata reached the PaymentIntent.
    let declined = new_session(&emulator);
    let other = client
        .create_checkout_session(
            &declined,
            &key(declined.payment_id, StripeAction::CreateSession),
        )
        .await
        .unwrap();
    emulator
        .pay_session(&other.id, PayOutcome::Decline)
        .unwrap();
    let failed = &events_of(&emulator, "payment_intent.payment_failed")[0]["data"]["object"];
    assert_eq!(
        failed["metadata"]["payment_id"],
        declined.payment_id.to_string()
    );
    assert_eq!(
        failed["metadata"]["order_id"],
        declined.order_id.to_string()
    );
    assert_ne!(failed["id"], intent_id);
}

#[tokio::test]
async fn retrieve_checkout_session_follows_payment() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let (new, created) = created_session(&emulator, &client).await;

    let open = client.retrieve_checkout_session(&created.id).await.unwrap();
    assert_eq!(open, created);

    emulator
        .pay_session(&created.id, PayOutcome::Succeed)
        .unwrap();
    let paid = client.retrieve_checkout_session(&created.id).await.unwrap();
    assert_eq!(paid.status, SessionStatus::Complete);
    assert_eq!(paid.payment_status, SessionPaymentStatus::Paid);
    assert!(paid.is_paid());
    assert!(
        paid.payment_intent_id
            .as_deref()
            .unwrap()
            .starts_with("pi_")
    );
    assert_eq!(
        paid.url, None,
        "Stripe clears the url once the session is not open"
    );
    assert_eq!(paid.payment_id, Some(new.payment_id));
}

#[tokio::test]
async fn retrieve_of_an_unknown_session_is_not_found() {
    let emulator = emulator().await;
    let error = client(&emulator)
        .retrieve_checkout_session("cs_test_missing")
        .await
        .unwrap_err();
    assert!(matches!(error, GatewayError::NotFound(_)), "{error:?}");
}

#[tokio::test]
async fn list_checkout_sessions_follows_pages_and_filters_by_status() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let since = OffsetDateTime::from_unix_timestamp(emulator.now() - 5).unwrap();
    let mut expired = Vec::new();
    for i in 0..103 {
        let new = new_session(&emulator);
        let session = client
            .create_checkout_session(&new, &key(new.payment_id, StripeAction::CreateSession))
            .await
            .unwrap();
        if i != 50 {
            emulator.expire_session(&session.id).unwrap();
            expired.push(session.id);
        }
    }

    let listed = client
        .list_checkout_sessions(SessionStatus::Expired, since)
        .await
        .unwrap();

    assert_eq!(listed.len(), 102, "more than one page of 100");
    assert!(listed.iter().all(|s| s.status == SessionStatus::Expired));
    let mut ids: Vec<_> = listed.into_iter().map(|s| s.id).collect();
    ids.sort();
    expired.sort();
    assert_eq!(ids, expired);
    let open = client
        .list_checkout_sessions(SessionStatus::Open, since)
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    let list_calls = emulator
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/checkout/sessions" && r.method == "GET")
        .count();
    assert_eq!(list_calls, 3);
}

#[tokio::test]
async fn list_checkout_sessions_skips_sessions_created_before_the_bound() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let first = new_session(&emulator);
    let old = client
        .create_checkout_session(&first, &key(first.payment_id, StripeAction::CreateSession))
        .await
        .unwrap();
    emulator.advance_clock(7200);
    let bound = OffsetDateTime::from_unix_timestamp(emulator.now()).unwrap();
    let second = new_session(&emulator);
    let recent = client
        .create_checkout_session(
            &second,
            &key(second.payment_id, StripeAction::CreateSession),
        )
        .await
        .unwrap();
    emulator.expire_session(&recent.id).unwrap();

    let listed = client
        .list_checkout_sessions(SessionStatus::Expired, bound)
        .await
        .unwrap();

    assert_eq!(
        listed.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        vec![recent.id.as_str()]
    );
    assert_ne!(old.id, recent.id);
}

#[tokio::test]
async fn expire_checkout_session_expires_an_open_session_once() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let (new, session) = created_session(&emulator, &client).await;
    let expire_key = key(new.payment_id, StripeAction::ExpireSession);

    let expired = client
        .expire_checkout_session(&session.id, &expire_key)
        .await
        .unwrap();
    assert_eq!(expired.status, SessionStatus::Expired);
    assert_eq!(expired.url, None);

    // A retry by a job with the same key replays the first answer.
    let again = client
        .expire_checkout_session(&session.id, &expire_key)
        .await
        .unwrap();
    assert_eq!(again, expired);
    assert_eq!(events_of(&emulator, "checkout.session.expired").len(), 1);
}

#[tokio::test]
async fn expire_on_a_completed_session_is_session_not_open() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let (new, session) = created_session(&emulator, &client).await;
    emulator
        .pay_session(&session.id, PayOutcome::Succeed)
        .unwrap();

    let error = client
        .expire_checkout_session(
            &session.id,
            &key(new.payment_id, StripeAction::ExpireSession),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(&error, GatewayError::SessionNotOpen(m) if m.contains("complete")),
        "{error:?}"
    );
    let after = client.retrieve_checkout_session(&session.id).await.unwrap();
    assert!(after.is_paid());
}

#[tokio::test]
async fn expire_on_an_expired_session_is_session_not_open() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let (new, session) = created_session(&emulator, &client).await;
    emulator.advance_clock(3600);

    let error = client
        .expire_checkout_session(
            &session.id,
            &key(new.payment_id, StripeAction::ExpireSession),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(&error, GatewayError::SessionNotOpen(m) if m.contains("expired")),
        "{error:?}"
    );
}

#[tokio::test]
async fn expire_of_an_unknown_session_is_not_found() {
    let emulator = emulator().await;
    let payment = domain::values::ids::PaymentId::new();
    let error = client(&emulator)
        .expire_checkout_session(
            "cs_test_missing",
            &key(payment, StripeAction::ExpireSession),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, GatewayError::NotFound(_)), "{error:?}");
}

#[tokio::test]
async fn expire_retries_after_two_500s_with_the_same_idempotency_key() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let (new, session) = created_session(&emulator, &client).await;
    let path = format!("/v1/checkout/sessions/{}/expire", session.id);
    emulator.inject_fault(fault(2, Some(500), &path));

    let expired = client
        .expire_checkout_session(
            &session.id,
            &key(new.payment_id, StripeAction::ExpireSession),
        )
        .await
        .unwrap();

    assert_eq!(expired.status, SessionStatus::Expired);
    let expected = format!("payment:{}:expire_session", new.payment_id);
    assert_eq!(
        keys_on(&emulator, &path),
        vec![expected.clone(), expected.clone(), expected]
    );
    let statuses: Vec<u16> = emulator
        .requests()
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![500, 500, 200]);
    assert_eq!(
        events_of(&emulator, "checkout.session.expired").len(),
        1,
        "one effect"
    );
}

#[tokio::test]
async fn create_retries_a_503_with_the_same_key_and_creates_one_session() {
    let emulator = emulator().await;
    let client = client(&emulator);
    emulator.inject_fault(fault(1, Some(503), "/v1/checkout/sessions"));
    let new = new_session(&emulator);

    let session = client
        .create_checkout_session(&new, &key(new.payment_id, StripeAction::CreateSession))
        .await
        .unwrap();

    let keys = keys_on(&emulator, "/v1/checkout/sessions");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1]);
    let all = client
        .list_checkout_sessions(SessionStatus::Open, OffsetDateTime::UNIX_EPOCH)
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|s| &s.id).collect::<Vec<_>>(),
        vec![&session.id]
    );
}

#[tokio::test]
async fn a_429_is_retried_after_the_retry_after_delay() {
    let emulator = emulator().await;
    let client = client(&emulator);
    emulator.inject_fault(Fault {
        retry_after: Some(1),
        ..fault(1, Some(429), "/v1/checkout/sessions/")
    });
    let (_, session) = created_session(&emulator, &client).await;

    let started = Instant::now();
    let retrieved = client.retrieve_checkout_session(&session.id).await.unwrap();

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(retrieved.id, session.id);
}

#[tokio::test]
async fn a_429_that_persists_is_rate_limited_with_its_retry_after() {
    let emulator = emulator().await;
    let mut config = config(emulator.base_url());
    config.max_attempts = 2;
    let client = StripeClient::new(&config).unwrap();
    emulator.inject_fault(Fault {
        retry_after: Some(1),
        ..fault(2, Some(429), "/v1/payment_intents/")
    });

    let error = client.retrieve_payment_intent("pi_any").await.unwrap_err();

    assert_eq!(
        error,
        GatewayError::RateLimited {
            retry_after: Some(Duration::from_secs(1))
        }
    );
    assert!(error.is_transient());
}

#[tokio::test]
async fn a_call_slower_than_the_timeout_is_transient() {
    let emulator = emulator().await;
    let mut config = config(emulator.base_url());
    config.timeout = Duration::from_millis(200);
    let client = StripeClient::new(&config).unwrap();
    emulator.inject_fault(Fault {
        delay_ms: 1000,
        ..fault(3, None, "/v1/checkout/sessions/")
    });

    let started = Instant::now();
    let error = client
        .retrieve_checkout_session("cs_test_slow")
        .await
        .unwrap_err();

    assert!(
        matches!(&error, GatewayError::Transient(m) if m.contains("timed out")),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// A person waits on the API's calls: a Stripe that keeps answering
/// slowly is given up at the interactive deadline, not after every attempt
/// ran its own timeout.
#[tokio::test]
async fn an_interactive_call_gives_up_at_its_deadline() {
    let emulator = emulator().await;
    let interactive = StripeConfig::interactive(
        emulator.base_url(),
        secrecy::SecretString::from("sk_test_emulator"),
    );
    let deadline = interactive
        .deadline
        .expect("interactive calls have a deadline");
    assert!(
        interactive.timeout * interactive.max_attempts > deadline,
        "the deadline binds before the attempts run out"
    );
    let client = StripeClient::new(&interactive).unwrap();
    emulator.inject_fault(Fault {
        delay_ms: 60_000,
        ..fault(10, None, "/v1/checkout/sessions/")
    });

    let started = Instant::now();
    let error = client
        .retrieve_checkout_session("cs_test_slow")
        .await
        .unwrap_err();

    let waited = started.elapsed();
    assert!(
        matches!(&error, GatewayError::Transient(m) if m.contains("timed out")),
        "{error:?}"
    );
    assert!(
        waited >= deadline.saturating_sub(Duration::from_millis(50)),
        "{waited:?}"
    );
    assert!(waited < deadline + Duration::from_secs(1), "{waited:?}");
}

#[tokio::test]
async fn a_timed_out_expire_is_retried_with_the_same_key_and_acts_once() {
    let emulator = emulator().await;
    let mut config = config(emulator.base_url());
    config.timeout = Duration::from_millis(300);
    let client = StripeClient::new(&config).unwrap();
    let (new, session) = created_session(&emulator, &client).await;
    let path = format!("/v1/checkout/sessions/{}/expire", session.id);
    emulator.inject_fault(Fault {
        delay_ms: 600,
        ..fault(1, None, &path)
    });

    let expired = client
        .expire_checkout_session(
            &session.id,
            &key(new.payment_id, StripeAction::ExpireSession),
        )
        .await
        .unwrap();
    assert_eq!(expired.status, SessionStatus::Expired);

    // The slow first attempt is still handled by the emulator afterwards:
    // it carries the same key, so it is a replay, not a second expiry.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let calls: Vec<_> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.path == path)
        .collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls.iter().all(|c| c.status == 200));
    assert_eq!(calls.iter().filter(|c| c.replayed).count(), 1);
    assert_eq!(events_of(&emulator, "checkout.session.expired").len(), 1);
}

#[tokio::test]
async fn a_refused_api_key_is_an_authentication_error() {
    let emulator = emulator().await;
    let mut config = config(emulator.base_url());
    config.secret_key = "pk_test_not_a_secret_key".to_owned().into();
    let client = StripeClient::new(&config).unwrap();

    let error = client
        .retrieve_checkout_session("cs_test_1")
        .await
        .unwrap_err();

    assert!(
        matches!(&error, GatewayError::Authentication(m) if !m.contains("not_a_secret_key")),
        "{error:?}"
    );
    assert_eq!(emulator.requests().len(), 1, "401 is not retried");
}

#[tokio::test]
async fn an_unreachable_api_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = StripeClient::new(&config(&base)).unwrap();

    let error = client.retrieve_payment_intent("pi_1").await.unwrap_err();

    assert!(matches!(error, GatewayError::Transient(_)), "{error:?}");
}

#[tokio::test]
async fn payment_intents_are_retrieved_and_a_checkout_ones_cancel_is_refused_once_sent() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let (new, intent_id) = paid_intent(&emulator, &client, PayOutcome::Decline).await;

    let intent = client.retrieve_payment_intent(&intent_id).await.unwrap();
    assert_eq!(intent.status, "requires_payment_method");
    assert!(!intent.is_cancelable());

    // Stripe: "You can't cancel the PaymentIntent for a Checkout Session.
    // Expire the Checkout Session instead." A refusal is not retried.
    let cancel_key = key(new.payment_id, StripeAction::CancelPaymentIntent);
    let refused = client
        .cancel_payment_intent(&intent_id, &cancel_key)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, GatewayError::Permanent(m) if m.contains("Expire the Checkout Session")),
        "{refused:?}"
    );
    assert_eq!(
        keys_on(
            &emulator,
            &format!("/v1/payment_intents/{intent_id}/cancel")
        ),
        vec![cancel_key.to_string()]
    );

    let missing = client
        .retrieve_payment_intent("pi_missing")
        .await
        .unwrap_err();
    assert!(matches!(missing, GatewayError::NotFound(_)), "{missing:?}");
}

#[tokio::test]
async fn cancelling_a_succeeded_payment_intent_is_permanent() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let (new, intent_id) = paid_intent(&emulator, &client, PayOutcome::Succeed).await;

    let error = client
        .cancel_payment_intent(
            &intent_id,
            &key(new.payment_id, StripeAction::CancelPaymentIntent),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(&error, GatewayError::Permanent(m) if m.contains("succeeded")),
        "{error:?}"
    );
}

fn issued(refund: Refund) -> IssuedRefund {
    match refund {
        Refund::Issued(refund) => refund,
        Refund::AlreadyRefunded => panic!("expected a new refund"),
    }
}

#[tokio::test]
async fn refunds_are_created_once_per_key() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let (new, intent_id) = paid_intent(&emulator, &client, PayOutcome::Succeed).await;
    let refund_key = key(new.payment_id, StripeAction::Refund);

    let refund = issued(
        client
            .create_refund(&intent_id, None, &refund_key)
            .await
            .unwrap(),
    );
    assert!(refund.id.starts_with("re_"));
    assert_eq!(refund.status, "succeeded");
    assert_eq!(refund.amount_minor, 3000);

    let again = client
        .create_refund(&intent_id, None, &refund_key)
        .await
        .unwrap();
    assert_eq!(
        again,
        Refund::Issued(refund),
        "same key: the first refund, not a second one"
    );
    assert_eq!(events_of(&emulator, "charge.refunded").len(), 1);

    // Reusing the key for other parameters is refused, not retried.
    let error = client
        .create_refund(&intent_id, Some(100), &refund_key)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, GatewayError::Permanent(m) if m.contains("idempotency_error")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_charge_already_refunded_in_the_dashboard_answers_already_refunded() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let (new, intent_id) = paid_intent(&emulator, &client, PayOutcome::Succeed).await;
    // The dashboard refunds with a key of its own.
    let dashboard = key(domain::values::ids::PaymentId::new(), StripeAction::Refund);
    issued(
        client
            .create_refund(&intent_id, None, &dashboard)
            .await
            .unwrap(),
    );

    let ours = client
        .create_refund(&intent_id, None, &key(new.payment_id, StripeAction::Refund))
        .await;

    assert_eq!(ours, Ok(Refund::AlreadyRefunded));
    assert_eq!(events_of(&emulator, "charge.refunded").len(), 1);
}

#[tokio::test]
async fn partial_refunds_and_unknown_intents() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let (new, intent_id) = paid_intent(&emulator, &client, PayOutcome::Succeed).await;

    let partial = issued(
        client
            .create_refund(
                &intent_id,
                Some(1000),
                &key(new.payment_id, StripeAction::Refund),
            )
            .await
            .unwrap(),
    );
    assert_eq!(partial.amount_minor, 1000);
    let refunded = &events_of(&emulator, "charge.refunded")[0]["data"]["object"];
    assert_eq!(refunded["amount_refunded"], 1000);

    let payment = domain::values::ids::PaymentId::new();
    let missing = client
        .create_refund("pi_missing", None, &key(payment, StripeAction::Refund))
        .await
        .unwrap_err();
    assert!(matches!(missing, GatewayError::NotFound(_)), "{missing:?}");
}
