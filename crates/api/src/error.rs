//! The API's one error type and the one place where domain, database and
//! queue errors become HTTP answers (DRF conventions: `{"detail": ...}`,
//! validation as `{"field": ["msg"]}`). 5xx causes are logged, never sent.

use crate::messages::{self, Msg};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use domain::gateway::GatewayError;
use domain::i18n::Lang;
use domain::{DomainError, PaymentStatus};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use worker::queue::QueueError;

/// Every error answer (validation errors are `{"field": ["message"]}` instead).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    #[schema(example = "No encontrado.")]
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A refusal with a message for the client (and maybe extra fields).
    #[error("{status}: {detail}")]
    Detail {
        status: StatusCode,
        detail: String,
        extra: Map<String, Value>,
    },
    /// 400 with messages per field.
    #[error("invalid input: {0:?}")]
    Validation(BTreeMap<String, Vec<String>>),
    /// Something that should not happen: 500, logged with its cause.
    #[error("internal error: {source:#}")]
    Internal {
        lang: Lang,
        #[source]
        source: anyhow::Error,
    },
}

impl ApiError {
    pub fn new(status: StatusCode, msg: Msg, lang: Lang) -> Self {
        Self::detail(status, msg.get(lang))
    }

    pub fn detail(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError::Detail {
            status,
            detail: detail.into(),
            extra: Map::new(),
        }
    }

    /// Adds a field next to `detail` (e.g. `payment_status` on a 409).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        if let ApiError::Detail { extra, .. } = &mut self {
            extra.insert(key.to_owned(), value.into());
        }
        self
    }

    pub fn not_found(lang: Lang) -> Self {
        Self::new(StatusCode::NOT_FOUND, messages::NOT_FOUND, lang)
    }

    pub fn field(field: &str, msg: impl Into<String>) -> Self {
        ApiError::Validation(BTreeMap::from([(field.to_owned(), vec![msg.into()])]))
    }

    pub fn internal(lang: Lang, source: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal {
            lang,
            source: source.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Detail { status, .. } => *status,
            ApiError::Validation(_) => StatusCode::BAD_REQUEST,
            ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn body(&self) -> Value {
        match self {
            ApiError::Detail { detail, extra, .. } => {
                let mut body = Map::new();
                body.insert("detail".into(), Value::String(detail.clone()));
                body.extend(extra.clone());
                Value::Object(body)
            }
            ApiError::Validation(fields) => json!(fields),
            ApiError::Internal { lang, .. } => json!({ "detail": messages::INTERNAL.get(*lang) }),
        }
    }

    /// Maps a domain error; the only place this mapping exists.
    pub fn from_domain(error: DomainError, lang: Lang) -> Self {
        use StatusCode as S;
        match error {
            DomainError::PaymentNotFound(_)
            | DomainError::UnknownSession(_)
            | DomainError::NotPaidYet(_) => Self::not_found(lang),
            DomainError::ProductNotFound(id) => Self::field(
                "items",
                format!("{} ({id})", messages::UNKNOWN_PRODUCT.get(lang)),
            ),
            // Lines of one product are added up: their sum is what is out
            // of range when each line alone is not.
            DomainError::QuantityOutOfRange(id) => Self::field(
                "items",
                format!(
                    "{} {id}: {}",
                    lang.pick("Producto", "Product"),
                    messages::QUANTITY_RANGE.get(lang)
                ),
            ),
            DomainError::InvalidCoupon(_) => {
                Self::field("coupon_code", messages::INVALID_COUPON.get(lang))
            }
            DomainError::InsufficientStock {
                product,
                requested,
                available,
            } => Self::new(S::CONFLICT, messages::INSUFFICIENT_STOCK, lang)
                .with("product_id", product.0)
                .with("requested", requested)
                .with("available", available),
            DomainError::AlreadyPaid { status, .. } => {
                let message = if status == PaymentStatus::Refunded {
                    messages::ALREADY_REFUNDED
                } else {
                    messages::ALREADY_PAID
                };
                Self::new(S::CONFLICT, message, lang).with("payment_status", status.as_str())
            }
            DomainError::InvalidTransition { from, .. } => {
                Self::new(S::CONFLICT, messages::CANNOT_CANCEL, lang)
                    .with("payment_status", from.as_str())
            }
            DomainError::InvalidInput(reason) => Self::detail(
                S::BAD_REQUEST,
                format!("{}: {reason}", messages::INVALID_BODY.get(lang)),
            ),
            DomainError::Money(e) => Self::detail(
                S::BAD_REQUEST,
                format!("{}: {e}", messages::INVALID_BODY.get(lang)),
            ),
            DomainError::Gateway(e) => Self::from_gateway(e, lang),
            DomainError::DatabaseUnavailable(reason) => {
                tracing::error!(target: "payments", %reason, "database unavailable");
                Self::new(S::SERVICE_UNAVAILABLE, messages::DATABASE_UNAVAILABLE, lang)
            }
            e @ DomainError::Database(_) if e.is_transient() => {
                tracing::warn!(target: "payments", error = %e, "transient database error");
                Self::new(S::SERVICE_UNAVAILABLE, messages::DATABASE_UNAVAILABLE, lang)
            }
            e @ DomainError::Database(_) => Self::internal(lang, e),
        }
    }

    /// A JSON body actix could not read (login): 413, 415 or 400.
    pub fn from_json(error: &actix_web::error::JsonPayloadError, lang: Lang) -> Self {
        use actix_web::error::JsonPayloadError as J;
        match error {
            J::OverflowKnownLength { .. } | J::Overflow { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                messages::PAYLOAD_TOO_LARGE,
                lang,
            ),
            J::ContentType => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                messages::UNSUPPORTED_MEDIA_TYPE,
                lang,
            ),
            // serde's own words name Rust types ("struct LoginBody"):
            // valid JSON of another shape gets the same answer as elsewhere.
            J::Deserialize(e) if e.is_data() => crate::body::not_an_object(lang),
            other => Self::detail(
                StatusCode::BAD_REQUEST,
                format!("{}: {other}", messages::MALFORMED_JSON.get(lang)),
            ),
        }
    }

    pub fn from_gateway(error: GatewayError, lang: Lang) -> Self {
        tracing::warn!(target: "payments", error = %error, "Stripe call failed");
        if error.is_transient() {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                messages::STRIPE_UNAVAILABLE,
                lang,
            )
        } else {
            Self::new(StatusCode::BAD_GATEWAY, messages::STRIPE_REFUSED, lang)
        }
    }

    pub fn from_queue(error: QueueError, lang: Lang) -> Self {
        match error {
            QueueError::Unavailable(reason) => {
                tracing::warn!(target: "payments", %reason, "Redis unavailable; job not enqueued");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    messages::QUEUE_UNAVAILABLE,
                    lang,
                )
            }
            QueueError::Database(e) => Self::from_domain(DomainError::Database(e), lang),
        }
    }
}

/// `result.or_api(lang)?` in handlers.
pub trait OrApi<T> {
    fn or_api(self, lang: Lang) -> Result<T, ApiError>;
}

impl<T> OrApi<T> for Result<T, DomainError> {
    fn or_api(self, lang: Lang) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::from_domain(e, lang))
    }
}

impl<T> OrApi<T> for Result<T, diesel::result::Error> {
    fn or_api(self, lang: Lang) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::from_domain(DomainError::Database(e), lang))
    }
}

impl<T> OrApi<T> for Result<T, diesel_async::pooled_connection::bb8::RunError> {
    fn or_api(self, lang: Lang) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::from_domain(DomainError::from(e), lang))
    }
}

impl<T> OrApi<T> for Result<T, QueueError> {
    fn or_api(self, lang: Lang) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::from_queue(e, lang))
    }
}

impl<T> OrApi<T> for Result<T, GatewayError> {
    fn or_api(self, lang: Lang) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::from_gateway(e, lang))
    }
}

/// Seconds a client is asked to wait after a 503.
pub const RETRY_AFTER_SECS: &str = "5";

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal { source, .. } = self {
            tracing::error!(target: "payments", error = ?source, "request failed");
        }
        let mut response = HttpResponse::build(self.status());
        if self.status() == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Token")));
        }
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            // A dependency is down (Redis, PostgreSQL, Stripe); clients and
            // proxies that honour it wait instead of hammering.
            response.insert_header((
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            ));
        }
        response.json(self.body())
    }
}
