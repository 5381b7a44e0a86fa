//! `/api/payments/`: one file per endpoint.

pub mod cancel;
pub mod check_expired;
pub mod checkout;
pub mod checkout_input;
pub mod debug_cancel;
pub mod list;
pub mod lookup;
pub mod stats;
pub mod status;
pub mod sync_status;
pub mod task_status;
pub mod test_cancellation;
pub mod timeline;
pub mod view;
pub mod webhook;
