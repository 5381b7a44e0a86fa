//! Choosing payments by id or owner, as `test_cancellation` and
//! `check_payment_status` do, and showing them with their order and their
//! Stripe mirror.

use anyhow::Context;
use diesel_async::AsyncPgConnection;
use domain::models::user::User;
use domain::queries::payments::{PaymentView, Visibility, find_visible, list_visible};
use domain::values::email::Email;
use domain::{PaymentId, PaymentStatus};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// Most payments one command lists.
pub const LIST_LIMIT: i64 = 200;

/// Which payments a command works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// One payment, whatever its status; with an e-mail, only if that
    /// user owns it.
    Payment(Uuid, Option<Email>),
    /// A user's payments with these statuses (all statuses when empty).
    User(Email, Vec<PaymentStatus>),
    /// Everyone's payments with these statuses.
    Status(Vec<PaymentStatus>),
}

impl Selection {
    /// `--payment-id` (owned by `--user-email` when both are given), else
    /// `--user-email`'s payments, else everyone's with `default` statuses.
    pub fn from_flags(
        payment_id: Option<Uuid>,
        user_email: Option<&Email>,
        user_statuses: &[PaymentStatus],
        default: &[PaymentStatus],
    ) -> Self {
        match (payment_id, user_email) {
            (Some(id), owner) => Selection::Payment(id, owner.cloned()),
            (None, Some(email)) => Selection::User(email.clone(), user_statuses.to_vec()),
            (None, None) => Selection::Status(default.to_vec()),
        }
    }

    /// The matching payments, newest first; an unknown id or e-mail is an
    /// error.
    pub async fn load(&self, conn: &mut AsyncPgConnection) -> anyhow::Result<Vec<PaymentView>> {
        let statuses = |s: &[PaymentStatus]| (!s.is_empty()).then(|| s.to_vec());
        match self {
            Selection::Payment(id, owner) => {
                let view = find_visible(conn, PaymentId(*id), Visibility::All)
                    .await
                    .context("cannot read the payment")?
                    .with_context(|| format!("no payment with id {id}"))?;
                if let Some(email) = owner {
                    let user = user_with(conn, email).await?;
                    anyhow::ensure!(
                        view.payment.user_id == user.id,
                        "payment {id} does not belong to {email}"
                    );
                }
                Ok(vec![view])
            }
            Selection::User(email, wanted) => {
                let user = user_with(conn, email).await?;
                let wanted = statuses(wanted);
                let owner = Visibility::Owner(user.id);
                let (_, views) = list_visible(conn, owner, wanted.as_deref(), 0, LIST_LIMIT)
                    .await
                    .context("cannot list payments")?;
                Ok(views)
            }
            Selection::Status(wanted) => {
                let wanted = statuses(wanted);
                let (_, views) =
                    list_visible(conn, Visibility::All, wanted.as_deref(), 0, LIST_LIMIT)
                        .await
                        .context("cannot list payments")?;
                Ok(views)
            }
        }
    }
}

async fn user_with(conn: &mut AsyncPgConnection, email: &Email) -> anyhow::Result<User> {
    User::find_by_email(conn, email)
        .await
        .context("cannot look up the user")?
        .with_context(|| format!("no user with e-mail {email}"))
}

/// A payment as the commands show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentRow {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub user_email: String,
    /// Major units, as the API shows them (`"10.00"`).
    pub amount: String,
    pub currency: String,
    pub payment_status: PaymentStatus,
    pub order_status: domain::OrderStatus,
    pub stripe_session_id: Option<String>,
    /// The local mirror of the session's status and payment status.
    pub stripe_session_status: Option<String>,
    pub stripe_payment_status: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Stripe still has to be told to expire the session (the sweep retries).
    pub stripe_expire_pending: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl PaymentRow {
    /// The amount as the tables show it, `10.00 USD`.
    pub fn amount_with_currency(&self) -> String {
        format!("{} {}", self.amount, self.currency)
    }
}

impl From<&PaymentView> for PaymentRow {
    fn from(view: &PaymentView) -> Self {
        let p = &view.payment;
        Self {
            payment_id: p.id.0,
            order_id: p.order_id.0,
            user_email: view.user_email.clone(),
            amount: p.amount().amount_string(),
            currency: p.currency.to_string(),
            payment_status: p.status,
            order_status: view.order_status,
            stripe_session_id: p.stripe_session_id.clone(),
            stripe_session_status: p.stripe_session_status.clone(),
            stripe_payment_status: p.stripe_payment_status.clone(),
            expires_at: p.expires_at,
            stripe_expire_pending: p.stripe_expire_pending,
            updated_at: p.updated_at,
        }
    }
}

/// `-` for a missing value.
pub fn or_dash(value: Option<&str>) -> String {
    value.map_or_else(|| "-".to_owned(), str::to_owned)
}

/// A time to the second, UTC.
pub fn short_time(t: Option<OffsetDateTime>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| {
            let t = t.to_offset(time::UtcOffset::UTC);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        },
    )
}
