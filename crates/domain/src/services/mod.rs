//! The business operations, each one function used by every caller.

pub mod cancel;
pub mod checkout;
pub mod complete;
pub mod expire;
pub mod fail;
pub mod refund;
mod release;
mod stripe_side;
mod transition;

pub use cancel::{CancelOutcome, cancel_payment};
pub use checkout::{CheckoutItem, CheckoutRequest, CheckoutSettings, checkout};
pub use complete::{CompletionOutcome, complete_payment};
pub use expire::{ExpiryOutcome, handle_session_expired};
pub use fail::record_payment_failed;
pub use refund::record_refund;
