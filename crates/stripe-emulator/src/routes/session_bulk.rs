//! `POST /_emulator/sessions/bulk`: loads Checkout Sessions as they would
//! stand after being created (and possibly expired) in Stripe, so a
//! benchmark can seed 100 k payments whose sessions the service then reads
//! and expires over real HTTP. Loading is not an API call: nothing is
//! logged, no idempotency key is kept and no event is emitted (the
//! sessions did not change, they are declared as they already are).

use crate::app::App;
use crate::error::ApiError;
use crate::state::{PaymentStatus, Session, SessionStatus, State};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use std::collections::{BTreeMap, HashSet};

/// One session to load.
#[derive(Debug, Deserialize)]
pub struct BulkSession {
    /// The session id the service stored (`cs_test_…`); must be new.
    pub id: String,
    /// Amount in minor units.
    pub amount_total: i64,
    /// ISO currency, any case (kept lower case, as Stripe answers).
    pub currency: String,
    /// Unix seconds; may be in the past.
    pub expires_at: i64,
    /// `open` (default) or `expired`.
    #[serde(default)]
    pub status: Option<String>,
    /// Unix seconds; defaults to the emulator's now.
    #[serde(default)]
    pub created: Option<i64>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub struct BulkBody {
    pub sessions: Vec<BulkSession>,
}

fn parse_status(index: usize, raw: Option<&str>) -> Result<SessionStatus, ApiError> {
    match raw {
        None | Some("open") => Ok(SessionStatus::Open),
        Some("expired") => Ok(SessionStatus::Expired),
        Some(other) => Err(ApiError::invalid(
            &format!("sessions[{index}][status]"),
            format!("status must be open or expired, not '{other}'"),
        )),
    }
}

/// Validates the whole batch before inserting any of it, so a refused
/// request leaves the state untouched.
fn build(state: &State, body: BulkBody) -> Result<Vec<Session>, ApiError> {
    let now = state.now();
    let base = state.base_url.trim_end_matches('/').to_owned();
    let mut seen = HashSet::with_capacity(body.sessions.len());
    let mut sessions = Vec::with_capacity(body.sessions.len());
    for (i, s) in body.sessions.into_iter().enumerate() {
        let status = parse_status(i, s.status.as_deref())?;
        if s.amount_total < 0 {
            return Err(ApiError::invalid(
                &format!("sessions[{i}][amount_total]"),
                "This value must be greater than or equal to 0.",
            ));
        }
        if s.currency.len() != 3 || !s.currency.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(ApiError::invalid(
                &format!("sessions[{i}][currency]"),
                format!("'{}' is not a three-letter currency code", s.currency),
            ));
        }
        if !s.id.starts_with("cs_") || !seen.insert(s.id.clone()) || state.session(&s.id).is_ok() {
            return Err(ApiError::invalid(
                &format!("sessions[{i}][id]"),
                format!("'{}' is not a new cs_… session id", s.id),
            ));
        }
        sessions.push(Session {
            url: format!("{base}/pay/{}", s.id),
            id: s.id,
            created: s.created.unwrap_or(now),
            expires_at: s.expires_at,
            status,
            payment_status: PaymentStatus::Unpaid,
            payment_intent: None,
            currency: s.currency.to_ascii_lowercase(),
            amount_total: s.amount_total,
            success_url: None,
            cancel_url: None,
            client_reference_id: None,
            customer_email: None,
            intent_metadata: s.metadata.clone(),
            metadata: s.metadata,
            line_items: Vec::new(),
        });
    }
    Ok(sessions)
}

/// Answers `{"loaded": n, "total": sessions now known}`.
pub async fn load(
    app: web::Data<App>,
    body: web::Json<BulkBody>,
) -> Result<HttpResponse, ApiError> {
    let mut state = app.lock();
    let sessions = build(&state, body.into_inner())?;
    let loaded = sessions.len();
    for session in sessions {
        state.insert_session(session);
    }
    Ok(HttpResponse::Ok().json(json!({"loaded": loaded, "total": state.sessions.len()})))
}
