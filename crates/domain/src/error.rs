//! The one error type of the domain. The API maps each variant to an HTTP
//! status in one place; the worker decides retry vs give-up with
//! [`DomainError::is_transient`].

use crate::gateway::GatewayError;
use crate::states::PaymentStatus;
use crate::values::ids::{PaymentId, ProductId};
use crate::values::money::MoneyError;

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("payment {0} not found")]
    PaymentNotFound(PaymentId),
    #[error("no payment for checkout session {0}")]
    UnknownSession(String),
    /// An event about money (a refund) arrived before the payment is known
    /// to be paid here or in Stripe: kept and retried, like an unknown session.
    #[error("payment {0} is not paid yet; the event waits for its payment")]
    NotPaidYet(PaymentId),
    #[error("product {0} not found")]
    ProductNotFound(ProductId),
    /// A line's quantity, or the sum of one product's lines, is outside
    /// 1..=MAX_QUANTITY.
    #[error("quantity of product {0} must be between 1 and {max}", max = crate::services::checkout::MAX_QUANTITY)]
    QuantityOutOfRange(ProductId),
    #[error("invalid request: {0}")]
    InvalidInput(String),
    #[error(
        "insufficient stock for product {product}: {available} available, {requested} requested"
    )]
    InsufficientStock {
        product: ProductId,
        requested: i32,
        available: i32,
    },
    #[error("coupon '{0}' is not valid")]
    InvalidCoupon(String),
    /// The customer has already paid: the payment is now COMPLETED (or
    /// REFUNDED) and cannot be cancelled.
    #[error("payment {payment} is already paid ({status})")]
    AlreadyPaid {
        payment: PaymentId,
        status: PaymentStatus,
    },
    #[error("payment {payment} is {from} and cannot become {to}")]
    InvalidTransition {
        payment: PaymentId,
        from: PaymentStatus,
        to: PaymentStatus,
    },
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("Stripe: {0}")]
    Gateway(#[from] GatewayError),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
}

impl DomainError {
    /// An event that cannot be applied yet: it is kept and retried (by its
    /// job, then by the sweep), which is not a failure.
    pub fn is_waiting(&self) -> bool {
        matches!(
            self,
            DomainError::UnknownSession(_) | DomainError::NotPaidYet(_)
        )
    }

    /// Retrying the same operation later may succeed.
    pub fn is_transient(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error as Db};
        match self {
            DomainError::Gateway(e) => e.is_transient(),
            DomainError::DatabaseUnavailable(_) => true,
            // A webhook can arrive before checkout stored its session id,
            // or before the payment it refunds completed.
            DomainError::UnknownSession(_) | DomainError::NotPaidYet(_) => true,
            DomainError::Database(Db::DatabaseError(kind, info)) => {
                matches!(
                    kind,
                    DatabaseErrorKind::SerializationFailure
                        | DatabaseErrorKind::ClosedConnection
                        | DatabaseErrorKind::UnableToSendCommand
                ) || server_ended_session(info.message())
            }
            DomainError::Database(Db::BrokenTransactionManager) => true,
            _ => false,
        }
    }
}

/// PostgreSQL ended our session: an administrator terminated the backend
/// (`pg_terminate_backend`, SQLSTATE 57P01), the server is shutting down
/// or restarting (57P02, 57P03). diesel reports these as `Unknown` with
/// only the message to tell them apart; a new connection will work.
fn server_ended_session(message: &str) -> bool {
    message.starts_with("terminating connection") || message.starts_with("the database system is")
}

impl From<diesel_async::pooled_connection::bb8::RunError> for DomainError {
    fn from(e: diesel_async::pooled_connection::bb8::RunError) -> Self {
        DomainError::DatabaseUnavailable(crate::db::unavailable_reason(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::DomainError;
    use diesel::result::{DatabaseErrorKind, Error as Db};

    fn db_error(kind: DatabaseErrorKind, message: &str) -> DomainError {
        DomainError::Database(Db::DatabaseError(kind, Box::new(message.to_owned())))
    }

    #[test]
    fn a_backend_terminated_or_a_server_restarting_is_transient() {
        for message in [
            "terminating connection due to administrator command",
            "terminating connection because of crash of another server process",
            "the database system is shutting down",
            "the database system is starting up",
        ] {
            assert!(
                db_error(DatabaseErrorKind::Unknown, message).is_transient(),
                "{message}"
            );
        }
    }

    #[test]
    fn other_database_errors_stay_permanent() {
        let e = db_error(DatabaseErrorKind::Unknown, "column \"x\" does not exist");
        assert!(!e.is_transient());
        let e = db_error(DatabaseErrorKind::UniqueViolation, "duplicate key");
        assert!(!e.is_transient());
    }
}
