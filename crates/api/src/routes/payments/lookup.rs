//! Finding the payment of a `{id}` path segment for a caller: malformed
//! ids and other people's payments are both simply not found (404).

use crate::auth::{Authenticated, Caller};
use crate::error::{ApiError, OrApi};
use diesel_async::AsyncPgConnection;
use domain::PaymentId;
use domain::i18n::Lang;
use domain::queries::payments::{PaymentView, Visibility, find_visible};

pub fn parse_id(raw: &str, lang: Lang) -> Result<PaymentId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(lang))
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
    let id = parse_id(raw_id, auth.lang)?;
    find_visible(conn, id, visibility(auth))
        .await
        .or_api(auth.lang)?
        .ok_or_else(|| ApiError::not_found(auth.lang))
}

/// The caller and the payment of `raw_id` if they may see it (`None`:
/// unknown, malformed or someone else's), looked up in one round trip: the
/// payment is read pipelined with the credentials, and the visibility rule
/// applied once the caller is known.
pub async fn caller_and_payment(
    caller: &Caller,
    conn: &AsyncPgConnection,
    raw_id: &str,
) -> Result<(Authenticated, Option<PaymentView>), ApiError> {
    let id = raw_id.parse::<PaymentId>().ok();
    let read = async {
        match id {
            Some(id) => find_visible(conn, id, Visibility::All).await,
            None => Ok(None),
        }
    };
    let (auth, found) = caller.authenticate_along(conn, read).await?;
    let view = found
        .or_api(auth.lang)?
        .filter(|view| visibility(&auth).allows(&view.payment));
    Ok((auth, view))
}
