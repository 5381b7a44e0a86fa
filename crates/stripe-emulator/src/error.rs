//! Stripe-shaped error responses: `{"error":{"type","code","message","param"}}`
//! with Stripe's status codes.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub type_: &'static str,
    pub code: Option<&'static str>,
    pub message: String,
    pub param: Option<String>,
    /// Raised before the endpoint started executing: the parameters failed
    /// validation, or no endpoint matched. Stripe saves no idempotent result
    /// for such a request, so a corrected retry with the same
    /// `Idempotency-Key` runs; errors raised while executing (a missing
    /// object, a state that forbids the action) are saved and replayed.
    pub validation: bool,
}

impl ApiError {
    fn new(
        status: u16,
        type_: &'static str,
        code: Option<&'static str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            type_,
            code,
            message: message.into(),
            param: None,
            validation: false,
        }
    }

    /// Marks the error as a validation failure (see [`ApiError::validation`]).
    fn before_execution(mut self) -> Self {
        self.validation = true;
        self
    }

    /// Marks a parameter error as found while executing, e.g. an amount
    /// checked against the object it applies to: it is saved under the
    /// request's `Idempotency-Key` like any other result of execution.
    pub fn while_executing(mut self) -> Self {
        self.validation = false;
        self
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn missing(param: &str) -> Self {
        Self::new(
            400,
            "invalid_request_error",
            Some("parameter_missing"),
            format!("Missing required param: {param}."),
        )
        .with_param(param)
        .before_execution()
    }

    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self::new(
            400,
            "invalid_request_error",
            Some("parameter_invalid"),
            message,
        )
        .with_param(param)
        .before_execution()
    }

    /// A 400 about the state of an object rather than the parameters, e.g.
    /// expiring a session that is not open. Saved under the request's
    /// `Idempotency-Key`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", None, message)
    }

    /// A 400 for parameters that cannot be read or do not go together
    /// (a malformed form, two exclusive parameters): a validation failure,
    /// not saved under the request's `Idempotency-Key`.
    pub fn invalid_parameters(message: impl Into<String>) -> Self {
        Self::bad_request(message).before_execution()
    }

    pub fn unexpected_state(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", Some(code), message)
    }

    pub fn not_found(kind: &str, id: &str, param: &str) -> Self {
        Self::new(
            404,
            "invalid_request_error",
            Some("resource_missing"),
            format!("No such {kind}: '{id}'"),
        )
        .with_param(param)
    }

    pub fn no_route(method: &str, path: &str) -> Self {
        Self::new(
            404,
            "invalid_request_error",
            None,
            format!("Unrecognized request URL ({method}: {path})."),
        )
        .before_execution()
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "invalid_request_error", None, message)
    }

    pub fn idempotency_mismatch(key: &str) -> Self {
        Self::new(
            400,
            "idempotency_error",
            None,
            format!(
                "Keys for idempotent requests can only be used with the same parameters they were first used with. \
                 Try using a key other than '{key}' if you meant to execute a different request."
            ),
        )
    }

    /// What an injected fault answers with `status`: the error type Stripe
    /// gives that kind of failure, among the four it documents (`api_error`,
    /// `card_error`, `idempotency_error`, `invalid_request_error`, the only
    /// ones async-stripe knows). Stripe's own 401 and 429 are
    /// `invalid_request_error`s, told apart by status and code.
    pub fn injected(status: u16) -> Self {
        const INJECTED: &str = "(injected by the emulator)";
        match status {
            429 => Self::rate_limited(),
            402 => Self::new(
                402,
                "card_error",
                Some("card_declined"),
                format!("Your card was declined {INJECTED}."),
            ),
            404 => Self::new(
                404,
                "invalid_request_error",
                Some("resource_missing"),
                format!("No such object {INJECTED}."),
            ),
            400..=499 => Self::new(
                status,
                "invalid_request_error",
                None,
                format!("The request was refused {INJECTED}."),
            ),
            _ => Self::server_error(status),
        }
    }

    /// A control endpoint's body that is not the JSON it expects.
    pub fn invalid_json(problem: impl fmt::Display) -> Self {
        Self::bad_request(format!("Invalid JSON body: {problem}"))
    }

    pub fn server_error(status: u16) -> Self {
        Self::new(
            status,
            "api_error",
            None,
            "An unknown error occurred (injected by the emulator).",
        )
    }

    pub fn rate_limited() -> Self {
        Self::new(
            429,
            "invalid_request_error",
            Some("rate_limit"),
            "Too many requests hit the API too quickly (injected by the emulator).",
        )
    }

    pub fn body(&self) -> Value {
        let mut error = json!({"type": self.type_, "message": self.message});
        if let Some(code) = self.code {
            error["code"] = json!(code);
            error["doc_url"] = json!(format!(
                "https://stripe.com/docs/error-codes/{}",
                code.replace('_', "-")
            ));
        }
        if let Some(param) = &self.param {
            error["param"] = json!(param);
        }
        json!({ "error": error })
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.type_, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        ApiError::status_code(self)
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(ApiError::status_code(self)).json(self.body())
    }
}

/// Errors of the emulator as a program (start-up, configuration).
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A start-up setting with a bad value; shown as one line naming both
    /// the flag and its environment variable, since either may have set it.
    #[error("{setting}: {reason}")]
    Setting {
        setting: crate::config::Setting,
        reason: String,
    },
}
