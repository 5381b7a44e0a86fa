//! Finding the payment of a `{id}` path segment for a caller: malformed
//! ids and other people's payments are both simply not found (404).

use crate::auth::Authenticated;
use crate::error::{ApiError, OrApi};
use diesel_async::AsyncPgConnection;
use domain::PaymentId;
use domain::queries::payments::{PaymentView, Visibility, find_visible};

pub fn parse_id(raw: &str, auth: &Authenticated) -> Result<PaymentId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(auth.lang))
}

pub fn visibility(auth: &Authenticated) -> Visibility {
    if auth.is_staff() {
        Visibility::All
    } else {
        Visibility::Owner(auth.user.id)
    }
}

/// The payment if the caller is its owner or staff.
pub async fn visible_payment(
    conn: &mut AsyncPgConnection,
    raw_id: &str,
    auth: &Authenticated,
) -> Result<PaymentView, ApiError> {
    let id = parse_id(raw_id, auth)?;
    find_visible(conn, id, visibility(auth))
        .await
        .or_api(auth.lang)?
        .ok_or_else(|| ApiError::not_found(auth.lang))
}
