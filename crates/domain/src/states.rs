//! Payment and order states with the transitions SPEC §4 allows.
//! The database refuses the same transitions through triggers; these
//! methods let callers decide before they write.

use crate::i18n::Lang;
use diesel::deserialize::FromSqlRow;
use diesel::deserialize::{self, FromSql};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Write;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status '{0}'")]
pub struct UnknownStatus(pub String);

macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $code:literal, $es:literal, $en:literal;)+ }) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize,
            AsExpression, FromSqlRow,
        )]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        #[diesel(sql_type = Text)]
        pub enum $name { $($variant,)+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The name the API and the database use (`"PENDING"`).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            /// The human label (`Pendiente` / `Pending`).
            pub fn label(self, lang: Lang) -> &'static str {
                match self { $($name::$variant => lang.pick($es, $en),)+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownStatus;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.to_ascii_uppercase().as_str() {
                    $($code => Ok($name::$variant),)+
                    _ => Err(UnknownStatus(s.to_owned())),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ToSql<Text, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.as_str().as_bytes())?;
                Ok(serialize::IsNull::No)
            }
        }

        impl FromSql<Text, Pg> for $name {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                let raw = std::str::from_utf8(bytes.as_bytes())?;
                Ok(raw.parse()?)
            }
        }
    };
}

status_enum!(
    /// Where a payment stands.
    PaymentStatus {
        Pending => "PENDING", "Pendiente", "Pending";
        Completed => "COMPLETED", "Completado", "Completed";
        Failed => "FAILED", "Fallido", "Failed";
        Cancelled => "CANCELLED", "Cancelado", "Cancelled";
        Refunded => "REFUNDED", "Reembolsado", "Refunded";
    }
);

status_enum!(
    /// Where an order stands.
    OrderStatus {
        Pending => "PENDING", "Pendiente", "Pending";
        Completed => "COMPLETED", "Completado", "Completed";
        Cancelled => "CANCELLED", "Cancelado", "Cancelled";
        Shipped => "SHIPPED", "Enviado", "Shipped";
        Delivered => "DELIVERED", "Entregado", "Delivered";
    }
);

impl PaymentStatus {
    pub fn can_transition_to(self, to: PaymentStatus) -> bool {
        use PaymentStatus::*;
        matches!(
            (self, to),
            (Pending, Completed | Failed | Cancelled)
                // A Checkout customer may retry a failed card while the session is open.
                | (Failed, Completed | Cancelled)
                | (Completed, Refunded)
                // Money that arrived after we cancelled is refunded (SPEC §5.5).
                | (Cancelled, Refunded)
        )
    }

    /// The statuses [`PaymentStatus::is_open`] holds for.
    pub const OPEN: [PaymentStatus; 2] = [PaymentStatus::Pending, PaymentStatus::Failed];

    /// Still waiting for the customer: the session may be paid or expire.
    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self)
    }
}

impl OrderStatus {
    pub fn can_transition_to(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (Pending, Completed | Cancelled) | (Completed, Shipped) | (Shipped, Delivered)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentStatus as P;

    #[test]
    fn payment_transitions_are_exactly_those_of_the_spec() {
        let allowed = [
            (P::Pending, P::Completed),
            (P::Pending, P::Failed),
            (P::Pending, P::Cancelled),
            (P::Failed, P::Completed),
            (P::Failed, P::Cancelled),
            (P::Completed, P::Refunded),
            (P::Cancelled, P::Refunded),
        ];
        for &from in P::ALL {
            for &to in P::ALL {
                assert_eq!(
                    from.can_transition_to(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn order_transitions_are_exactly_those_of_the_spec() {
        use OrderStatus as O;
        let allowed = [
            (O::Pending, O::Completed),
            (O::Pending, O::Cancelled),
            (O::Completed, O::Shipped),
            (O::Shipped, O::Delivered),
        ];
        for &from in O::ALL {
            for &to in O::ALL {
                assert_eq!(
                    from.can_transition_to(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn labels_are_spanish_by_default_and_english_on_request() {
        assert_eq!(P::Cancelled.label(Lang::Es), "Cancelado");
        assert_eq!(P::Cancelled.label(Lang::En), "Cancelled");
        assert_eq!(OrderStatus::Shipped.label(Lang::Es), "Enviado");
        assert_eq!(P::Refunded.label(Lang::Es), "Reembolsado");
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for &s in P::ALL {
            assert_eq!(s.as_str().parse::<P>().unwrap(), s);
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert!("P".parse::<P>().is_err());
    }
}
