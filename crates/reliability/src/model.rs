//! The model of the model-based tests: what customers, Stripe, operators
//! and sweeps do to payments, as plain data (so a failing case shrinks to
//! a short, readable list), and an interpreter that performs each
//! operation against a running [`Stack`]. Operations of one [`Group`] are
//! launched together (`join_all`), so they race on the same payments.

use crate::client::{NoAnswer, Reply};
use crate::stack::{Stack, WEBHOOK_SECRET};
use crate::world::COUPON_CODE;
use domain::PaymentId;
use futures::future::join_all;
use manage::commands::{clean_expired_sessions, test_cancellation};
use serde_json::Value;
use std::fmt;
use tokio::sync::Mutex;

/// Which payment an operation is about: the n-th one created so far
/// (wrapping around). Operations on no payment at all are skipped.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Pay(pub u8);

impl fmt::Debug for Pay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// A customer checks out `quantity` units, maybe with the coupon.
    Checkout {
        customer: u8,
        quantity: u8,
        coupon: bool,
    },
    /// The owner cancels: `POST /api/payments/{id}/cancel/`.
    CancelViaEndpoint(Pay),
    /// An operator runs `manage test_cancellation --payment-id ID`.
    CancelViaCli(Pay),
    /// The customer pays on the hosted page (`checkout.session.completed`).
    CustomerPays(Pay),
    /// The card is declined (`payment_intent.payment_failed`).
    CardDeclined(Pay),
    /// Stripe expires the session itself (`checkout.session.expired`).
    StripeExpiresSession(Pay),
    /// Stripe delivers the payment's latest event again (a duplicate).
    RedeliverLatestEvent(Pay),
    /// Stripe delivers the payment's first event again after the newer
    /// ones (out of order, stale).
    RedeliverFirstEvent(Pay),
    /// The session's `expires_at` passes on our side (the sweep's cue).
    ExpiryPasses(Pay),
    /// Staff start a sweep: `POST /api/payments/check_expired_sessions/`.
    SweepViaEndpoint,
    /// An operator runs `manage clean_expired_sessions`.
    SweepViaCli,
    /// Someone refunds the payment in Stripe's dashboard (`charge.refunded`).
    RefundInStripe(Pay),
}

/// Operations launched at the same time.
pub type Group = Vec<Op>;

/// How Stripe misdelivers webhooks during the case (emulator mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Webhooks {
    /// Every event delivered twice.
    pub duplicate: bool,
    /// Events held until this many wait, then delivered newest first.
    pub reorder_batch: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub webhooks: Webhooks,
    pub groups: Vec<Group>,
}

/// A payment the run created.
#[derive(Debug, Clone)]
struct Known {
    payment_id: String,
    session_id: String,
    customer: usize,
}

/// Runs operations against a stack and remembers what they created.
pub struct Interpreter<'a> {
    stack: &'a Stack,
    known: Mutex<Vec<Known>>,
}

impl<'a> Interpreter<'a> {
    pub fn new(stack: &'a Stack) -> Self {
        Self {
            stack,
            known: Mutex::new(Vec::new()),
        }
    }

    pub async fn run(&self, case: &Case) -> Result<(), String> {
        let w = case.webhooks;
        self.stack
            .control
            .set_webhook_mode(w.duplicate, w.reorder_batch.map(usize::from), 0)
            .await
            .map_err(|e| e.to_string())?;
        for (g, group) in case.groups.iter().enumerate() {
            let snapshot = self.known.lock().await.clone();
            let results = join_all(group.iter().map(|op| self.perform(*op, &snapshot))).await;
            let failures: Vec<String> = results
                .into_iter()
                .zip(group)
                .filter_map(|(r, op)| r.err().map(|e| format!("group {g}, {op:?}: {e}")))
                .collect();
            if !failures.is_empty() {
                return Err(failures.join("\n"));
            }
        }
        Ok(())
    }

    fn pick(known: &[Known], pay: Pay) -> Option<&Known> {
        (!known.is_empty()).then(|| &known[usize::from(pay.0) % known.len()])
    }

    /// One operation. `Err`: the service answered in a way no caller
    /// should ever see (a 5xx, an unexpected status, a hang).
    async fn perform(&self, op: Op, known: &[Known]) -> Result<(), String> {
        let s = self.stack;
        match op {
            Op::Checkout {
                customer,
                quantity,
                coupon,
            } => {
                let customer = usize::from(customer);
                let token = s.world.customer(customer);
                let coupon = coupon.then_some(COUPON_CODE);
                let reply = answered(
                    s.api
                        .checkout(token, s.world.product, i64::from(quantity), coupon)
                        .await,
                )?;
                match reply.status {
                    201 => {
                        let payment_id = reply.str("payment_id").ok_or("no payment_id")?;
                        let session_id = reply.str("session_id").ok_or("no session_id")?;
                        self.known.lock().await.push(Known {
                            payment_id: payment_id.to_owned(),
                            session_id: session_id.to_owned(),
                            customer,
                        });
                        Ok(())
                    }
                    // Out of stock; coupon used up.
                    409 => Ok(()),
                    400 if reply.body.get("coupon_code").is_some() => Ok(()),
                    _ => Err(format!("checkout answered {reply:?}")),
                }
            }
            Op::CancelViaEndpoint(pay) => {
                let Some(p) = Self::pick(known, pay) else {
                    return Ok(());
                };
                let token = s.world.customer(p.customer);
                let reply = answered(s.api.cancel(token, &p.payment_id).await)?;
                match reply.status {
                    200 => Ok(()),
                    // Paid first: recorded COMPLETED (or already refunded).
                    409 => Ok(()),
                    _ => Err(format!("cancel answered {reply:?}")),
                }
            }
            Op::CancelViaCli(pay) => {
                let Some(p) = Self::pick(known, pay) else {
                    return Ok(());
                };
                let opts = test_cancellation::Opts {
                    payment_id: Some(p.payment_id.parse().map_err(|e| format!("{e}"))?),
                    user_email: None,
                    dry_run: false,
                    stripe_test: false,
                    all: false,
                };
                let mut conn = s.db.conn().await;
                let report = test_cancellation::run(&mut conn, s.gateway.as_ref(), &opts)
                    .await
                    .map_err(|e| format!("manage test_cancellation failed: {e:#}"))?;
                for tested in &report.payments {
                    if let Some(error) = tested.cancellation.as_ref().and_then(|c| c.error.clone())
                        && !error.contains("already paid")
                    {
                        return Err(format!("manage test_cancellation: {error}"));
                    }
                }
                Ok(())
            }
            Op::CustomerPays(pay) | Op::CardDeclined(pay) => {
                let Some(p) = Self::pick(known, pay) else {
                    return Ok(());
                };
                let succeed = matches!(op, Op::CustomerPays(_));
                // A closed session refuses; that is Stripe's business.
                s.control
                    .pay(&p.session_id, succeed)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            Op::StripeExpiresSession(pay) => {
                let Some(p) = Self::pick(known, pay) else {
                    return Ok(());
                };
                s.control
                    .expire(&p.session_id)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            Op::RedeliverLatestEvent(pay) | Op::RedeliverFirstEvent(pay) => {
                let Some(p) = Self::pick(known, pay) else {
                    return Ok(());
                };
                let events = self.events_of(&p.session_id).await?;
                let event = if matches!(op, Op::RedeliverLatestEvent(_)) {
                    events.last()
                } else {
                    events.first()
                };
                let Some(event) = event else {
                    return Ok(());
                };
                let reply = answered(s.api.webhook(event, WEBHOOK_SECRET).await)?;
                match reply.status {
                    200 => Ok(()),
                    _ => Err(format!("webhook answered {reply:?}")),
                }
            }
            Op::ExpiryPasses(pay) => {
                let Some(p) = Self::pick(known, pay) else {
                    return Ok(());
                };
                let id: PaymentId = p.payment_id.parse().map_err(|e| format!("{e}"))?;
                backdate(s, id).await
            }
            Op::SweepViaEndpoint => {
                let reply = answered(s.api.check_expired_sessions(&s.world.staff).await)?;
                match reply.status {
                    202 => Ok(()),
                    _ => Err(format!("check_expired_sessions answered {reply:?}")),
                }
            }
            Op::SweepViaCli => {
                let opts = clean_expired_sessions::Opts {
                    dry_run: false,
                    force: false,
                    session_ttl_secs: 1800,
                    concurrency: 4,
                };
                clean_expired_sessions::run(s.db.pool(), s.gateway.as_ref(), &opts)
                    .await
                    .map(drop)
                    .map_err(|e| format!("manage clean_expired_sessions failed: {e:#}"))
            }
            Op::RefundInStripe(pay) => {
                let Some(p) = Self::pick(known, pay) else {
                    return Ok(());
                };
                let session = s
                    .gateway
                    .retrieve_checkout_session(&p.session_id)
                    .await
                    .map_err(|e| e.to_string())?;
                let Some(intent) = session.payment_intent_id else {
                    return Ok(());
                };
                s.control
                    .dashboard_refund(&intent)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// The events Stripe emitted about a session and its payment intent,
    /// oldest first.
    async fn events_of(&self, session_id: &str) -> Result<Vec<Value>, String> {
        self.stack
            .control
            .events_of(session_id)
            .await
            .map_err(|e| e.to_string())
    }
}

fn answered(result: Result<Reply, NoAnswer>) -> Result<Reply, String> {
    let reply = result.map_err(|e| format!("no answer: {e:?}"))?;
    if reply.status >= 500 {
        return Err(format!("server error {reply:?}"));
    }
    Ok(reply)
}

async fn backdate(stack: &Stack, id: PaymentId) -> Result<(), String> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use domain::schema::payments;
    let past = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
    diesel::update(payments::table.find(id))
        .set(payments::expires_at.eq(past))
        .execute(&mut *stack.db.conn().await)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}
