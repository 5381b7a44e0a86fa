//! Failures → [`GatewayError`], after the retry loop has given up.

use crate::transport::TransportError;
use domain::gateway::GatewayError;

/// Which call failed; only expiring gives a 400 its own meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    CreateSession,
    RetrieveSession,
    ListSessions,
    ExpireSession,
    RetrievePaymentIntent,
    CancelPaymentIntent,
    CreateRefund,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::CreateSession => "create_checkout_session",
            Operation::RetrieveSession => "retrieve_checkout_session",
            Operation::ListSessions => "list_checkout_sessions",
            Operation::ExpireSession => "expire_checkout_session",
            Operation::RetrievePaymentIntent => "retrieve_payment_intent",
            Operation::CancelPaymentIntent => "cancel_payment_intent",
            Operation::CreateRefund => "create_refund",
        }
    }
}

pub fn classify(operation: Operation, error: TransportError) -> GatewayError {
    let text = format!("{}: {error}", operation.as_str());
    match error {
        TransportError::Timeout | TransportError::Connection(_) => GatewayError::Transient(text),
        TransportError::Decode(_) => GatewayError::Permanent(text),
        TransportError::Api {
            status,
            error,
            retry_after,
            ..
        } => {
            let code = error.as_ref().and_then(|e| e.code.as_deref());
            let type_ = error.as_ref().map(|e| e.type_.as_str());
            match status {
                404 => GatewayError::NotFound(text),
                _ if code == Some("resource_missing") => GatewayError::NotFound(text),
                401 | 403 => GatewayError::Authentication(text),
                429 => GatewayError::RateLimited { retry_after },
                409 | 500..=599 => GatewayError::Transient(text),
                400 if operation == Operation::ExpireSession
                    && type_ == Some("invalid_request_error") =>
                {
                    GatewayError::SessionNotOpen(text)
                }
                _ => GatewayError::Permanent(text),
            }
        }
    }
}

/// Stripe's 400 `charge_already_refunded`: the refund the caller wants
/// exists already (someone refunded the charge, e.g. in the dashboard), so
/// it is an answer, not a failure.
pub fn is_already_refunded(error: &TransportError) -> bool {
    matches!(
        error,
        TransportError::Api { status: 400, error: Some(body), .. }
            if body.code.as_deref() == Some("charge_already_refunded")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::ApiErrorBody;
    use std::time::Duration;

    fn api(status: u16, type_: &str, code: Option<&str>) -> TransportError {
        TransportError::Api {
            status,
            error: Some(ApiErrorBody {
                type_: type_.into(),
                code: code.map(Into::into),
                message: Some("m".into()),
            }),
            retry_after: None,
            should_retry: None,
        }
    }

    #[test]
    fn only_a_400_charge_already_refunded_means_already_refunded() {
        assert!(is_already_refunded(&api(
            400,
            "invalid_request_error",
            Some("charge_already_refunded")
        )));
        assert!(!is_already_refunded(&api(
            400,
            "invalid_request_error",
            Some("charge_not_refundable")
        )));
        assert!(!is_already_refunded(&api(
            400,
            "invalid_request_error",
            None
        )));
        assert!(!is_already_refunded(&TransportError::Timeout));
    }

    #[test]
    fn statuses_map_to_the_documented_classes() {
        use Operation::*;
        let e = |op, err| classify(op, err);
        assert!(matches!(
            e(
                RetrieveSession,
                api(404, "invalid_request_error", Some("resource_missing"))
            ),
            GatewayError::NotFound(_)
        ));
        assert!(matches!(
            e(ExpireSession, api(400, "invalid_request_error", None)),
            GatewayError::SessionNotOpen(_)
        ));
        assert!(matches!(
            e(CreateSession, api(400, "invalid_request_error", None)),
            GatewayError::Permanent(_)
        ));
        assert!(matches!(
            e(
                ExpireSession,
                api(400, "invalid_request_error", Some("resource_missing"))
            ),
            GatewayError::NotFound(_)
        ));
        assert!(matches!(
            e(CreateRefund, api(401, "invalid_request_error", None)),
            GatewayError::Authentication(_)
        ));
        assert!(matches!(
            e(CreateRefund, api(403, "invalid_request_error", None)),
            GatewayError::Authentication(_)
        ));
        assert!(matches!(
            e(CreateRefund, api(402, "card_error", None)),
            GatewayError::Permanent(_)
        ));
        assert!(matches!(
            e(CreateRefund, api(503, "api_error", None)),
            GatewayError::Transient(_)
        ));
        assert!(matches!(
            e(CreateRefund, api(409, "idempotency_error", None)),
            GatewayError::Transient(_)
        ));
        assert!(matches!(
            e(CreateRefund, TransportError::Timeout),
            GatewayError::Transient(_)
        ));
        let limited = TransportError::Api {
            status: 429,
            error: None,
            retry_after: Some(Duration::from_secs(3)),
            should_retry: None,
        };
        assert_eq!(
            e(ListSessions, limited),
            GatewayError::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
    }
}
