//! Stored webhook events, processed once whatever the deliveries.

use crate::helpers::Ctx;
use domain::PaymentStatus;
use domain::audit::{Actor, AuditSource};
use domain::events::{RefundedCharge, StripeEvent, StripeEventKind};
use domain::gateway::{CheckoutSession, SessionPaymentStatus, SessionStatus};
use domain::models::stripe_event::{Stored, StoredEvent};
use domain::services::{EventParser, process_stored_event, record_payment_failed};
use serde_json::json;
use time::OffsetDateTime;

/// Reads the small envelope these tests store (the real parser lives in
/// `stripe-client` and is tested there against Stripe's fixtures).
pub struct TestParser;

impl EventParser for TestParser {
    fn parse(&self, payload: &[u8]) -> Result<StripeEvent, String> {
        let v: serde_json::Value = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        let object = &v["data"]["object"];
        let session = || CheckoutSession {
            id: object["id"].as_str().unwrap_or_default().to_owned(),
            status: SessionStatus::parse(object["status"].as_str().unwrap_or_default()),
            payment_status: SessionPaymentStatus::parse(
                object["payment_status"].as_str().unwrap_or_default(),
            ),
            payment_intent_id: object["payment_intent"].as_str().map(str::to_owned),
            expires_at: object["expires_at"]
                .as_i64()
                .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()),
            url: None,
            payment_id: object["metadata"]["payment_id"]
                .as_str()
                .and_then(|id| id.parse().ok()),
        };
        let event_type = v["type"].as_str().ok_or("no type")?.to_owned();
        let kind = match event_type.as_str() {
            "checkout.session.completed" => StripeEventKind::SessionCompleted(session()),
            "checkout.session.expired" => StripeEventKind::SessionExpired(session()),
            "checkout.session.async_payment_failed" => {
                StripeEventKind::SessionAsyncPaymentFailed(session())
            }
            "payment_intent.payment_failed" => StripeEventKind::PaymentIntentFailed {
                payment_intent_id: object["id"].as_str().unwrap_or_default().to_owned(),
                payment_id: object["metadata"]["payment_id"]
                    .as_str()
                    .and_then(|id| id.parse().ok()),
                error_message: Some("Your card was declined.".into()),
            },
            "charge.refunded" => StripeEventKind::ChargeRefunded(RefundedCharge {
                payment_intent_id: object["payment_intent"].as_str().map(str::to_owned),
                amount_minor: object["amount"].as_i64().unwrap_or_default(),
                amount_refunded_minor: object["amount_refunded"].as_i64().unwrap_or_default(),
                refunded: object["refunded"].as_bool().unwrap_or_default(),
            }),
            _ => StripeEventKind::Ignored,
        };
        Ok(StripeEvent {
            id: v["id"].as_str().ok_or("no id")?.to_owned(),
            event_type,
            created: OffsetDateTime::now_utc(),
            kind,
        })
    }
}

fn envelope(
    id: &str,
    event_type: &str,
    session_id: &str,
    status: &str,
    paid: &str,
) -> serde_json::Value {
    json!({ "id": id, "type": event_type, "data": { "object": {
        "id": session_id, "status": status, "payment_status": paid, "payment_intent": "pi_x" } } })
}

#[tokio::test]
async fn a_redelivered_event_is_stored_once_and_processed_once() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(2, None).await;
    let session_id = payment.stripe_session_id.clone().unwrap();
    ctx.stripe.pay(&session_id);
    let payload = envelope(
        "evt_1",
        "checkout.session.completed",
        &session_id,
        "complete",
        "paid",
    );
    let mut conn = ctx.db.conn().await;

    let first = StoredEvent::store(&mut conn, "evt_1", "checkout.session.completed", &payload)
        .await
        .unwrap();
    let again = StoredEvent::store(&mut conn, "evt_1", "checkout.session.completed", &payload)
        .await
        .unwrap();
    assert_eq!(first, Stored::New);
    assert_eq!(again, Stored::Duplicate { processed: false });

    let outcome = process_stored_event(&mut conn, ctx.stripe.as_ref(), &TestParser, "evt_1")
        .await
        .unwrap();
    let replay = process_stored_event(&mut conn, ctx.stripe.as_ref(), &TestParser, "evt_1")
        .await
        .unwrap();

    assert_eq!(outcome.action, "completed");
    assert_eq!(replay.action, "already_processed");
    assert_eq!(
        ctx.payment(payment.id).await.status,
        PaymentStatus::Completed
    );
    let stored = StoredEvent::store(&mut conn, "evt_1", "checkout.session.completed", &payload)
        .await
        .unwrap();
    assert_eq!(stored, Stored::Duplicate { processed: true });
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn an_event_without_expires_at_leaves_the_payments_expiry_alone() {
    // A delayed payment method: the session completes before it is paid.
    // The event here carries no `expires_at` (a trimmed payload); taking
    // the time of reading for it made the sweep expire the live session.
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    let session_id = payment.stripe_session_id.clone().unwrap();
    let payload = envelope(
        "evt_unpaid",
        "checkout.session.completed",
        &session_id,
        "complete",
        "unpaid",
    );
    let mut conn = ctx.db.conn().await;
    StoredEvent::store(
        &mut conn,
        "evt_unpaid",
        "checkout.session.completed",
        &payload,
    )
    .await
    .unwrap();

    process_stored_event(&mut conn, ctx.stripe.as_ref(), &TestParser, "evt_unpaid")
        .await
        .unwrap();

    let after = ctx.payment(payment.id).await;
    assert_eq!(after.status, PaymentStatus::Pending);
    assert_eq!(after.stripe_session_status.as_deref(), Some("complete"));
    assert!(payment.expires_at.is_some());
    assert_eq!(after.expires_at, payment.expires_at);
}

#[tokio::test]
async fn a_card_failure_reported_after_the_payment_completed_reports_nothing_to_do() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    let session_id = payment.stripe_session_id.clone().unwrap();
    ctx.stripe.pay(&session_id);
    let completed = envelope(
        "evt_paid",
        "checkout.session.completed",
        &session_id,
        "complete",
        "paid",
    );
    let failed = json!({ "id": "evt_declined", "type": "payment_intent.payment_failed",
        "data": { "object": { "id": "pi_x", "metadata": { "payment_id": payment.id.to_string() } } } });
    let mut conn = ctx.db.conn().await;
    for (id, kind, payload) in [
        ("evt_paid", "checkout.session.completed", &completed),
        ("evt_declined", "payment_intent.payment_failed", &failed),
    ] {
        StoredEvent::store(&mut conn, id, kind, payload)
            .await
            .unwrap();
    }

    process_stored_event(&mut conn, ctx.stripe.as_ref(), &TestParser, "evt_paid")
        .await
        .unwrap();
    let late = process_stored_event(&mut conn, ctx.stripe.as_ref(), &TestParser, "evt_declined")
        .await
        .unwrap();

    assert_eq!(late.action, "nothing_to_do");
    assert_eq!(late.payment_status, Some(PaymentStatus::Completed));
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn an_event_for_a_session_not_yet_known_stays_unprocessed_for_a_retry() {
    let ctx = Ctx::new(10).await;
    let payload = envelope(
        "evt_2",
        "checkout.session.expired",
        "cs_unknown",
        "expired",
        "unpaid",
    );
    let mut conn = ctx.db.conn().await;
    StoredEvent::store(&mut conn, "evt_2", "checkout.session.expired", &payload)
        .await
        .unwrap();

    let result = process_stored_event(&mut conn, ctx.stripe.as_ref(), &TestParser, "evt_2").await;

    let error = result.expect_err("unknown session");
    assert!(error.is_transient(), "retried later, never dropped");
    let stored = StoredEvent::find(&mut conn, "evt_2")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.processed_at.is_none());
    assert_eq!(stored.attempts, 1);
    assert!(stored.processing_error.is_some());
}

#[tokio::test]
async fn the_sweep_processes_stored_events_nobody_processed() {
    use diesel_async::RunQueryDsl;
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    let session_id = payment.stripe_session_id.clone().unwrap();
    ctx.stripe.expire(&session_id);
    let payload = envelope(
        "evt_3",
        "checkout.session.expired",
        &session_id,
        "expired",
        "unpaid",
    );
    let mut conn = ctx.db.conn().await;
    StoredEvent::store(&mut conn, "evt_3", "checkout.session.expired", &payload)
        .await
        .unwrap();
    diesel::sql_query("UPDATE stripe_events SET received_at = now() - interval '10 minutes'")
        .execute(&mut conn)
        .await
        .unwrap();

    let opts = domain::services::SweepOptions::new(domain::jobs::SweepTrigger::Oneoff);
    let report =
        domain::services::run_sweep(ctx.db.pool(), ctx.stripe.as_ref(), &TestParser, &opts, None)
            .await
            .unwrap();

    assert_eq!(report.events_processed, 1);
    assert_eq!(
        ctx.payment(payment.id).await.status,
        PaymentStatus::Cancelled
    );
    assert!(
        StoredEvent::find(&mut conn, "evt_3")
            .await
            .unwrap()
            .unwrap()
            .processed_at
            .is_some()
    );
    ctx.assert_invariants().await;
}

/// Stores a `checkout.session.expired` event received ten minutes ago
/// (past the sweep's grace) for `session_id`.
async fn store_old_expiry_event(ctx: &Ctx, event_id: &str, session_id: &str) {
    use diesel_async::RunQueryDsl;
    let payload = envelope(
        event_id,
        "checkout.session.expired",
        session_id,
        "expired",
        "unpaid",
    );
    let mut conn = ctx.db.conn().await;
    StoredEvent::store(&mut conn, event_id, "checkout.session.expired", &payload)
        .await
        .unwrap();
    diesel::sql_query(
        "UPDATE stripe_events SET received_at = now() - interval '10 minutes' WHERE id = $1",
    )
    .bind::<diesel::sql_types::Text, _>(event_id)
    .execute(&mut conn)
    .await
    .unwrap();
}

#[tokio::test]
async fn an_event_for_a_session_unknown_here_waits_without_failing_the_sweep() {
    let ctx = Ctx::new(10).await;
    store_old_expiry_event(&ctx, "evt_foreign", "cs_test_another_integration").await;
    let mut opts = domain::services::SweepOptions::new(domain::jobs::SweepTrigger::Oneoff);
    opts.dry_run = true;
    let predicted =
        domain::services::run_sweep(ctx.db.pool(), ctx.stripe.as_ref(), &TestParser, &opts, None)
            .await
            .unwrap();
    assert_eq!(
        (predicted.events_waiting, predicted.events_processed),
        (1, 0),
        "the dry run predicts the wait: {predicted:?}"
    );

    let opts = domain::services::SweepOptions::new(domain::jobs::SweepTrigger::Oneoff);
    let report =
        domain::services::run_sweep(ctx.db.pool(), ctx.stripe.as_ref(), &TestParser, &opts, None)
            .await
            .unwrap();

    assert_eq!((report.events_waiting, report.errors), (1, 0), "{report:?}");
    assert_eq!(report.outcome(), "idle");
    let stored = StoredEvent::find(&mut *ctx.db.conn().await, "evt_foreign")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.processed_at.is_none(), "kept for a later retry");
    assert_eq!(stored.attempts, 1);
}

#[tokio::test]
async fn events_that_keep_waiting_do_not_crowd_newer_events_out_of_the_sweep() {
    let ctx = Ctx::new(10).await;
    for n in 0..3 {
        store_old_expiry_event(
            &ctx,
            &format!("evt_foreign_{n}"),
            &format!("cs_foreign_{n}"),
        )
        .await;
    }
    let payment = ctx.checkout(1, None).await;
    let session_id = payment.stripe_session_id.clone().unwrap();
    ctx.stripe.expire(&session_id);
    store_old_expiry_event(&ctx, "evt_ours", &session_id).await;
    let mut opts = domain::services::SweepOptions::new(domain::jobs::SweepTrigger::Oneoff);
    opts.batch_limit = 2;

    let mut processed = 0;
    for _ in 0..3 {
        let report = domain::services::run_sweep(
            ctx.db.pool(),
            ctx.stripe.as_ref(),
            &TestParser,
            &opts,
            None,
        )
        .await
        .unwrap();
        processed += report.events_processed;
    }

    assert_eq!(processed, 1, "our event got its turn");
    assert_eq!(
        ctx.payment(payment.id).await.status,
        PaymentStatus::Cancelled
    );
    ctx.assert_invariants().await;
}

/// A signed event about a session that is not the payment's own, though it
/// carries the payment's metadata.
fn foreign(
    id: &str,
    event_type: &str,
    payment: &domain::models::payment::Payment,
) -> serde_json::Value {
    json!({ "id": id, "type": event_type, "data": { "object": {
        "id": "cs_someone_else", "status": "complete", "payment_status": "paid",
        "payment_intent": "pi_someone_else",
        "metadata": { "payment_id": payment.id.to_string() } } } })
}

async fn process(ctx: &Ctx, id: &str, event_type: &str, payload: &serde_json::Value) -> String {
    let mut conn = ctx.db.conn().await;
    StoredEvent::store(&mut conn, id, event_type, payload)
        .await
        .unwrap();
    process_stored_event(&mut conn, ctx.stripe.as_ref(), &TestParser, id)
        .await
        .unwrap()
        .action
}

#[tokio::test]
async fn a_completed_event_for_another_session_leaves_a_settled_payment_alone() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    let session_id = payment.stripe_session_id.clone().unwrap();
    ctx.stripe.pay(&session_id);
    let own = envelope(
        "evt_paid",
        "checkout.session.completed",
        &session_id,
        "complete",
        "paid",
    );
    process(&ctx, "evt_paid", "checkout.session.completed", &own).await;
    let before = ctx.payment(payment.id).await;

    let event = foreign("evt_foreign", "checkout.session.completed", &payment);
    let action = process(&ctx, "evt_foreign", "checkout.session.completed", &event).await;

    assert_eq!(action, "foreign_session");
    assert_eq!(ctx.payment(payment.id).await, before, "nothing changed");
    ctx.assert_invariants().await;
}

#[tokio::test]
async fn failures_reported_for_another_session_or_intent_leave_the_payment_alone() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    let own_failure = json!({ "id": "evt_declined", "type": "payment_intent.payment_failed",
        "data": { "object": { "id": "pi_own", "metadata": { "payment_id": payment.id.to_string() } } } });
    process(
        &ctx,
        "evt_declined",
        "payment_intent.payment_failed",
        &own_failure,
    )
    .await;
    let before = ctx.payment(payment.id).await;
    assert_eq!(before.stripe_payment_intent_id.as_deref(), Some("pi_own"));

    let mut intent_failure = foreign(
        "evt_other_intent",
        "payment_intent.payment_failed",
        &payment,
    );
    intent_failure["data"]["object"]["id"] = json!("pi_someone_else");
    let by_intent = process(
        &ctx,
        "evt_other_intent",
        "payment_intent.payment_failed",
        &intent_failure,
    )
    .await;
    let session_failure = foreign(
        "evt_other_session",
        "checkout.session.async_payment_failed",
        &payment,
    );
    let by_session = process(
        &ctx,
        "evt_other_session",
        "checkout.session.async_payment_failed",
        &session_failure,
    )
    .await;

    assert_eq!(
        (by_intent.as_str(), by_session.as_str()),
        ("foreign_session", "foreign_session")
    );
    assert_eq!(ctx.payment(payment.id).await, before, "nothing changed");
}

fn charge_refunded(id: &str, amount: i64, refunded_so_far: i64) -> serde_json::Value {
    json!({ "id": id, "type": "charge.refunded", "data": { "object": {
        "id": "ch_1", "payment_intent": "pi_x", "amount": amount,
        "amount_refunded": refunded_so_far, "refunded": refunded_so_far >= amount } } })
}

#[tokio::test]
async fn a_partial_refund_keeps_the_payment_completed_and_a_full_one_refunds_it() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(2, None).await;
    let session_id = payment.stripe_session_id.clone().unwrap();
    ctx.stripe.pay(&session_id);
    let paid = envelope(
        "evt_paid",
        "checkout.session.completed",
        &session_id,
        "complete",
        "paid",
    );
    process(&ctx, "evt_paid", "checkout.session.completed", &paid).await;
    let amount = payment.amount_minor;

    let partial = charge_refunded("evt_partial", amount, amount / 4);
    let first = process(&ctx, "evt_partial", "charge.refunded", &partial).await;

    assert_eq!(first, "partial_refund_noted");
    let after_partial = ctx.payment(payment.id).await;
    assert_eq!(after_partial.status, PaymentStatus::Completed);
    assert_eq!(after_partial.refunded_at, None);

    let rest = charge_refunded("evt_rest", amount, amount);
    let second = process(&ctx, "evt_rest", "charge.refunded", &rest).await;

    assert_eq!(second, "refunded");
    assert_eq!(
        ctx.payment(payment.id).await.status,
        PaymentStatus::Refunded
    );
    ctx.assert_invariants().await;
}

fn full_refund_of(id: &str, intent: &str, amount: i64) -> serde_json::Value {
    json!({ "id": id, "type": "charge.refunded", "data": { "object": {
        "id": "ch_1", "payment_intent": intent, "amount": amount,
        "amount_refunded": amount, "refunded": true } } })
}

/// A declined card first (the intent is stored), then a paid retry and a
/// refund in the dashboard, whose event comes before the completion's: the
/// refund is not lost, the payment completes from Stripe's session and is
/// then refunded (black-box adversary: it ended COMPLETED, refund lost).
#[tokio::test]
async fn a_refund_that_arrives_before_the_completion_completes_then_refunds() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    let session = ctx
        .stripe
        .pay(payment.stripe_session_id.as_deref().unwrap());
    let intent = session.payment_intent_id.clone().unwrap();
    let declined = Actor::new(AuditSource::Webhook, "evt_declined");
    record_payment_failed(
        &mut *ctx.db.conn().await,
        payment.id,
        Some(&intent),
        Some("Your card was declined."),
        &declined,
    )
    .await
    .unwrap();

    let refund = full_refund_of("evt_refund", &intent, payment.amount_minor);
    let action = process(&ctx, "evt_refund", "charge.refunded", &refund).await;

    assert_eq!(action, "refunded");
    let after = ctx.payment(payment.id).await;
    assert_eq!(after.status, PaymentStatus::Refunded);
    assert!(after.completed_at.is_some(), "completed first, from Stripe");
    ctx.assert_invariants().await;
}

/// Stripe does not show the payment paid yet: the refund's event waits
/// (kept, retried) instead of being processed as `nothing_to_do`.
#[tokio::test]
async fn a_refund_for_a_payment_not_paid_anywhere_yet_waits() {
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(1, None).await;
    let declined = Actor::new(AuditSource::Webhook, "evt_declined");
    record_payment_failed(
        &mut *ctx.db.conn().await,
        payment.id,
        Some("pi_declined"),
        Some("Your card was declined."),
        &declined,
    )
    .await
    .unwrap();
    let refund = full_refund_of("evt_early", "pi_declined", payment.amount_minor);
    let mut conn = ctx.db.conn().await;
    StoredEvent::store(&mut conn, "evt_early", "charge.refunded", &refund)
        .await
        .unwrap();

    let error = process_stored_event(&mut conn, ctx.stripe.as_ref(), &TestParser, "evt_early")
        .await
        .unwrap_err();

    assert!(error.is_waiting(), "{error}");
    let stored = StoredEvent::find(&mut conn, "evt_early")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.processed_at, None, "kept for a retry");
    assert_eq!(ctx.payment(payment.id).await.status, PaymentStatus::Failed);
}

/// A checkout whose Stripe call gave up while Stripe went on to create the
/// session: the payment never stored it. Its expiry event finds the payment
/// by the session's metadata and releases it, instead of waiting forever
/// for a session "unknown here" (black-box adversary: 43 attempts, never
/// processed, stock held).
#[tokio::test]
async fn the_expiry_of_a_session_the_checkout_never_stored_releases_its_payment() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use domain::schema::payments;
    let ctx = Ctx::new(10).await;
    let payment = ctx.checkout(2, None).await;
    let session_id = payment.stripe_session_id.clone().unwrap();
    diesel::update(payments::table.find(payment.id))
        .set(payments::stripe_session_id.eq(None::<String>))
        .execute(&mut *ctx.db.conn().await)
        .await
        .unwrap();
    ctx.stripe.expire(&session_id);
    let expired = json!({ "id": "evt_late", "type": "checkout.session.expired",
        "data": { "object": { "id": session_id, "status": "expired", "payment_status": "unpaid",
            "metadata": { "payment_id": payment.id.to_string() } } } });

    let action = process(&ctx, "evt_late", "checkout.session.expired", &expired).await;

    assert_eq!(action, "cancelled");
    assert_eq!(
        ctx.payment(payment.id).await.status,
        PaymentStatus::Cancelled
    );
    ctx.assert_invariants().await;
    let again = json!({ "id": "evt_late_2", "type": "checkout.session.expired",
        "data": { "object": { "id": session_id, "status": "expired", "payment_status": "unpaid",
            "metadata": { "payment_id": payment.id.to_string() } } } });
    assert_eq!(
        process(&ctx, "evt_late_2", "checkout.session.expired", &again).await,
        "nothing_to_do",
        "a settled payment: processed, not left waiting"
    );
}
