//! The business operations, each one function used by every caller.

pub mod cancel;
pub mod checkout;
pub mod complete;
pub mod events;
pub mod expire;
pub mod fail;
pub mod refund;
mod release;
mod stripe_side;
pub mod sweep;
mod transition;

pub use cancel::{CancelOutcome, CancelPlan, cancel_payment, cancel_read_payment};
pub use checkout::{CheckoutItem, CheckoutRequest, CheckoutSettings, checkout};
pub use complete::{CompletionOutcome, complete_payment};
pub use events::{EventOutcome, EventParser, process_event, process_stored_event};
pub use expire::{ExpiryOutcome, handle_session_expired};
pub use fail::record_payment_failed;
pub use refund::record_refund;
pub use sweep::{SweepOptions, SweepReport, run_sweep};
