//! Model-based concurrency tests (issue 8, item 1): random groups of
//! operations — checkouts, cancels through the endpoint and the CLI,
//! payments, declines, Stripe-side expiries, duplicated and out-of-order
//! webhooks, sweeps through the endpoint and the CLI, dashboard refunds —
//! each group launched at once against the real API, worker and Stripe
//! emulator. After every case the run is brought to rest (webhooks
//! delivered, jobs drained, expiries passed, one sweep) and SPEC §4's
//! invariants must hold, with every payment agreeing with Stripe.
//!
//! `PROPTEST_CASES=200 cargo nextest run -p reliability --test model` for
//! a long run; a failure shrinks to the shortest sequence that still
//! breaks something, printed as `Case { webhooks, groups: [[Op, ..], ..] }`.

use proptest::prelude::*;
use reliability::checks::{FailedJobs, check_everything};
use reliability::model::{Case, Group, Interpreter, Op, Pay, Webhooks};
use reliability::settle::Settle;
use reliability::stack::Stack;
use std::time::Duration;

/// Cases per run unless `PROPTEST_CASES` says otherwise: each case starts
/// its own database and stack (~3–6 s), and scripts/test must stay short.
const DEFAULT_CASES: u32 = 16;
const CUSTOMERS: usize = 3;
/// Little stock and few coupon uses, so checkouts contend.
const UNITS: i32 = 8;
const COUPON_USES: i32 = 2;

fn pay() -> impl Strategy<Value = Pay> {
    (0u8..6).prop_map(Pay)
}

fn checkout() -> impl Strategy<Value = Op> {
    (0u8..3, 1u8..=3, any::<bool>()).prop_map(|(customer, quantity, coupon)| Op::Checkout {
        customer,
        quantity,
        coupon,
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => checkout(),
        3 => pay().prop_map(Op::CancelViaEndpoint),
        2 => pay().prop_map(Op::CancelViaCli),
        3 => pay().prop_map(Op::CustomerPays),
        1 => pay().prop_map(Op::CardDeclined),
        1 => pay().prop_map(Op::StripeExpiresSession),
        2 => pay().prop_map(Op::RedeliverLatestEvent),
        1 => pay().prop_map(Op::RedeliverFirstEvent),
        2 => pay().prop_map(Op::ExpiryPasses),
        1 => Just(Op::SweepViaEndpoint),
        1 => Just(Op::SweepViaCli),
        1 => pay().prop_map(Op::RefundInStripe),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let webhooks =
        (any::<bool>(), prop::option::of(2u8..=4)).prop_map(|(duplicate, reorder_batch)| {
            Webhooks {
                duplicate,
                reorder_batch,
            }
        });
    let opening = prop::collection::vec(checkout(), 1..=3);
    let groups = prop::collection::vec(prop::collection::vec(op(), 1..=4), 1..=5);
    (webhooks, opening, groups).prop_map(|(webhooks, opening, groups)| Case {
        webhooks,
        groups: std::iter::once(opening).chain(groups).collect(),
    })
}

/// Runs one case on a fresh stack in a runtime of its own (so everything
/// the case started stops with it). `Err`: what went wrong, readable.
fn run_case(case: &Case) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let stack = Stack::start(CUSTOMERS, UNITS, COUPON_USES)
            .await
            .map_err(|e| format!("stack: {e:#}"))?;
        let result = exercise(&stack, case).await;
        stack.stop().await;
        result
    })
}

async fn exercise(stack: &Stack, case: &Case) -> Result<(), String> {
    Interpreter::new(stack).run(case).await?;
    let settled = Settle {
        api: &stack.api,
        staff_token: &stack.world.staff,
        control: &stack.control,
        pool: stack.db.pool(),
        patience: Duration::from_secs(30),
    }
    .run()
    .await
    .map_err(|e| format!("settle: {e:#}"))?;
    let facts = stack.control.facts().await.map_err(|e| e.to_string())?;
    let mut conn = stack.db.conn().await;
    let findings = check_everything(
        &mut conn,
        stack.gateway.as_ref(),
        &facts,
        FailedJobs::AreViolations,
    )
    .await
    .map_err(|e| format!("checks: {e:#}"))?;
    let mut broken = settled.problems;
    broken.extend(findings.violations);
    if broken.is_empty() {
        Ok(())
    } else {
        Err(format!("invariants broken:\n  {}", broken.join("\n  ")))
    }
}

fn config() -> ProptestConfig {
    // `ProptestConfig::default()` reads PROPTEST_CASES; keep ours small
    // unless asked for more.
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = DEFAULT_CASES;
    }
    // Each shrinking step reruns a whole case: bound it (ten minutes).
    if std::env::var_os("PROPTEST_MAX_SHRINK_TIME").is_none() {
        config.max_shrink_time = 600_000;
    }
    config
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn invariants_hold_after_any_concurrent_mix_of_cancels_payments_webhooks_and_sweeps(case in case()) {
        if let Err(broken) = run_case(&case) {
            prop_assert!(false, "{}", broken);
        }
    }
}

/// The race the service exists for, always run: the customer pays while
/// the owner cancels, the CLI cancels, Stripe redelivers and a sweep runs.
#[test]
fn paying_while_everyone_cancels_ends_completed_or_refunded_never_lost() {
    let race: Group = vec![
        Op::CancelViaEndpoint(Pay(0)),
        Op::CustomerPays(Pay(0)),
        Op::CancelViaCli(Pay(0)),
        Op::SweepViaCli,
    ];
    let case = Case {
        webhooks: Webhooks {
            duplicate: true,
            reorder_batch: None,
        },
        groups: vec![
            vec![Op::Checkout {
                customer: 0,
                quantity: 2,
                coupon: true,
            }],
            vec![Op::ExpiryPasses(Pay(0))],
            race,
            vec![
                Op::RedeliverFirstEvent(Pay(0)),
                Op::RedeliverLatestEvent(Pay(0)),
            ],
        ],
    };
    if let Err(broken) = run_case(&case) {
        panic!("{broken}");
    }
}
