//! Faults injected into the next API calls: an error status (500, 503, 429
//! with `Retry-After`), a delay before the call is handled, or both.
//! Injected errors stand for failures in front of Stripe's API, so they
//! are not saved under the request's idempotency key.

use crate::error::ApiError;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// How many matching API calls this fault applies to.
    #[serde(default = "one")]
    pub count: u32,
    /// Answer with this status instead of handling the call.
    #[serde(default)]
    pub status: Option<u16>,
    /// `Retry-After` seconds sent with the status (typically with 429).
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Wait this long before answering (the call is then handled normally
    /// unless `status` is set).
    #[serde(default)]
    pub delay_ms: u64,
    /// Only calls whose path starts with this, e.g. `/v1/checkout/sessions`.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// Only calls with this method (`GET`, `POST`).
    #[serde(default)]
    pub method: Option<String>,
}

fn one() -> u32 {
    1
}

impl Fault {
    /// A fault's status stands for an error answer, so it must be 4xx or
    /// 5xx: a 2xx or 3xx "fault" would answer success with an error body.
    pub fn check(&self) -> Result<(), ApiError> {
        match self.status {
            Some(status) if !(400..=599).contains(&status) => Err(ApiError::invalid(
                "status",
                format!(
                    "A fault answers with an error, so its status must be 400 to 599, not {status}."
                ),
            )),
            _ => Ok(()),
        }
    }
}

impl Default for Fault {
    /// One call, no status, no delay, any path: set the fields you need.
    fn default() -> Self {
        Self {
            count: 1,
            status: None,
            retry_after: None,
            delay_ms: 0,
            path_prefix: None,
            method: None,
        }
    }
}

/// What one API call suffers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub delay: Duration,
}

#[derive(Debug, Default)]
pub struct FaultQueue {
    faults: VecDeque<Fault>,
}

impl FaultQueue {
    pub fn push(&mut self, fault: Fault) {
        if fault.count > 0 {
            self.faults.push_back(fault);
        }
    }

    pub fn clear(&mut self) {
        self.faults.clear();
    }

    pub fn pending(&self) -> Vec<Fault> {
        self.faults.iter().cloned().collect()
    }

    /// Consumes one use of the first fault matching this call.
    pub fn take(&mut self, method: &str, path: &str) -> Option<Injected> {
        let index = self.faults.iter().position(|f| {
            f.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
        })?;
        let fault = &mut self.faults[index];
        fault.count -= 1;
        let injected = Injected {
            status: fault.status,
            retry_after: fault.retry_after,
            delay: Duration::from_millis(fault.delay_ms),
        };
        if fault.count == 0 {
            self.faults.remove(index);
        }
        Some(injected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(count: u32, status: u16, path: Option<&str>) -> Fault {
        Fault {
            count,
            status: Some(status),
            retry_after: None,
            delay_ms: 0,
            path_prefix: path.map(Into::into),
            method: None,
        }
    }

    #[test]
    fn only_error_statuses_make_a_fault() {
        for status in [400, 429, 500, 599] {
            assert_eq!(fault(1, status, None).check(), Ok(()), "{status}");
        }
        for status in [100, 200, 204, 302, 399, 600] {
            let refused = fault(1, status, None).check().unwrap_err();
            assert_eq!(refused.param.as_deref(), Some("status"), "{status}");
        }
        assert_eq!(Fault::default().check(), Ok(()), "a delay alone");
    }

    #[test]
    fn a_fault_applies_to_exactly_count_matching_calls() {
        let mut q = FaultQueue::default();
        q.push(fault(2, 500, Some("/v1/refunds")));
        assert_eq!(q.take("GET", "/v1/checkout/sessions"), None);
        assert_eq!(q.take("POST", "/v1/refunds").unwrap().status, Some(500));
        assert_eq!(q.take("POST", "/v1/refunds").unwrap().status, Some(500));
        assert_eq!(q.take("POST", "/v1/refunds"), None);
        assert!(q.pending().is_empty());
    }
}
