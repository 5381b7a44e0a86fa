//! The load: customers checking out, paying, failing cards, cancelling,
//! racing a payment against their own cancel, abandoning carts, and
//! Stripe redelivering events; every answer counted by operation and kind.

use crate::client::{ApiClient, NoAnswer, Reply};
use crate::emulator::EmulatorControl;
use crate::world::{COUPON_CODE, World};
use rand::Rng;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, watch};

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Answer {
    /// 2xx.
    Success,
    /// 409: out of stock, already paid — the business saying no.
    Conflict,
    /// Another 4xx with a JSON explanation.
    Refused,
    /// 503 with a JSON explanation: a dependency is down, try again.
    Unavailable,
    /// Any other 5xx, or an error without an explanation.
    Unclear,
    /// No answer within the request timeout: a hang.
    Timeout,
    /// Connection refused or reset.
    NoConnection,
}

impl Answer {
    pub fn of(result: &Result<Reply, NoAnswer>) -> Self {
        match result {
            Ok(r) if r.is_success() => Answer::Success,
            Ok(r) => {
                let explained = r.body.is_object();
                match r.status {
                    409 if explained => Answer::Conflict,
                    503 if explained => Answer::Unavailable,
                    400..=499 if explained => Answer::Refused,
                    _ => Answer::Unclear,
                }
            }
            Err(NoAnswer::Timeout) => Answer::Timeout,
            Err(NoAnswer::Connect) => Answer::NoConnection,
            Err(NoAnswer::Other) => Answer::Unclear,
        }
    }

    /// A caller got what it needed to decide (success or a clear error).
    pub fn is_clear(self) -> bool {
        matches!(
            self,
            Answer::Success | Answer::Conflict | Answer::Refused | Answer::Unavailable
        )
    }
}

/// Requests by operation and answer.
pub type LoadCounts = BTreeMap<(&'static str, Answer), u64>;

/// How many unclear answers are kept in full for the report.
const UNCLEAR_KEPT: usize = 20;

pub struct Load {
    api: ApiClient,
    control: EmulatorControl,
    world: World,
    counts: Mutex<LoadCounts>,
    /// The first unclear answers, as they came, to diagnose them.
    unclear: Mutex<Vec<String>>,
}

impl Load {
    pub fn new(api: ApiClient, control: EmulatorControl, world: World) -> Self {
        Self {
            api,
            control,
            world,
            counts: Mutex::new(BTreeMap::new()),
            unclear: Mutex::new(Vec::new()),
        }
    }

    pub async fn counts(&self) -> LoadCounts {
        self.counts.lock().await.clone()
    }

    pub async fn unclear(&self) -> Vec<String> {
        self.unclear.lock().await.clone()
    }

    async fn count(&self, op: &'static str, result: &Result<Reply, NoAnswer>) {
        let answer = Answer::of(result);
        *self.counts.lock().await.entry((op, answer)).or_default() += 1;
        if !answer.is_clear() {
            let mut kept = self.unclear.lock().await;
            if kept.len() < UNCLEAR_KEPT {
                kept.push(format!("{op}: {}", describe(result)));
            }
        }
    }

    async fn stripe_action(&self, op: &'static str, ok: bool) {
        let answer = if ok { Answer::Success } else { Answer::Unclear };
        *self.counts.lock().await.entry((op, answer)).or_default() += 1;
    }

    /// One customer, until `stop`.
    pub async fn customer(self: Arc<Self>, me: usize, stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            self.one_visit(me).await;
            let pause = rand::rng().random_range(20..150);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }

    async fn one_visit(&self, me: usize) {
        let token = self.world.customer(me).to_owned();
        let (quantity, coupon, choice) = {
            let mut rng = rand::rng();
            (
                rng.random_range(1..=3),
                rng.random_bool(0.1).then_some(COUPON_CODE),
                rng.random_range(0..100u32),
            )
        };
        let result = self
            .api
            .checkout(&token, self.world.product, quantity, coupon)
            .await;
        self.count("checkout", &result).await;
        let Ok(reply) = result else { return };
        let (Some(payment), Some(session)) = (reply.str("payment_id"), reply.str("session_id"))
        else {
            return;
        };
        let (payment, session) = (payment.to_owned(), session.to_owned());
        match choice {
            0..35 => self.pay(&session, true).await,
            35..45 => {
                self.pay(&session, false).await;
                self.pay(&session, true).await;
            }
            45..70 => {
                let result = self.api.cancel(&token, &payment).await;
                self.count("cancel", &result).await;
            }
            70..80 => {
                // Pays while cancelling: one of them wins, never both.
                let (_, result) =
                    tokio::join!(self.pay(&session, true), self.api.cancel(&token, &payment));
                self.count("cancel", &result).await;
            }
            80..88 => self.redeliver(&session).await,
            // Abandoned: the sweep settles it after expiry.
            _ => {}
        }
    }

    async fn pay(&self, session: &str, succeed: bool) {
        let ok = self.control.pay(session, succeed).await.is_ok();
        let op = if succeed {
            "stripe: pay"
        } else {
            "stripe: decline"
        };
        self.stripe_action(op, ok).await;
    }

    /// Stripe sends the session's events again (duplicates, and the
    /// oldest after the newest).
    async fn redeliver(&self, session: &str) {
        self.pay(session, true).await;
        // Reading the events is Stripe's side of a redelivery, not a
        // request to the service.
        let Ok(events) = self.control.events_of(session).await else {
            self.stripe_action("stripe: list events", false).await;
            return;
        };
        for event in events.iter().rev() {
            let result = self.api.webhook(event, super::WEBHOOK_SECRET).await;
            self.count("webhook redelivery", &result).await;
        }
    }
}

/// One answer as a line of the report: status and the start of the body,
/// or why there was none.
fn describe(result: &Result<Reply, NoAnswer>) -> String {
    match result {
        Ok(reply) => {
            let body: String = reply.body.to_string().chars().take(200).collect();
            format!("HTTP {} {body}", reply.status)
        }
        Err(no_answer) => format!("no answer ({no_answer:?})"),
    }
}
