//! Cross-cutting request handling.

pub mod content_language;
pub mod cors;
pub mod head;
pub mod json_errors;
pub mod metrics;
pub mod rate_limit;
pub mod request_span;
