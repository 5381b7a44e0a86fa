//! Typed identifiers, so a payment id can never be passed where an order id
//! is expected. Each maps to its SQL column type through diesel.

use diesel::deserialize::FromSqlRow;
use diesel::deserialize::{self, FromSql};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident($inner:ty) as $sql:ty) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            Serialize, Deserialize, AsExpression, FromSqlRow,
        )]
        #[serde(transparent)]
        #[diesel(sql_type = $sql)]
        pub struct $name(pub $inner);

        impl ToSql<$sql, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                <$inner as ToSql<$sql, Pg>>::to_sql(&self.0, out)
            }
        }

        impl FromSql<$sql, Pg> for $name {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                <$inner as FromSql<$sql, Pg>>::from_sql(bytes).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = <$inner as FromStr>::Err;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    };
}

typed_id!(
    /// A payment (UUID; also the id the frontend sees).
    PaymentId(Uuid) as SqlUuid
);
typed_id!(
    /// An order (UUID).
    OrderId(Uuid) as SqlUuid
);
typed_id!(
    /// A user account.
    UserId(i64) as BigInt
);
typed_id!(
    /// A product in the catalogue.
    ProductId(i64) as BigInt
);
typed_id!(
    /// A coupon.
    CouponId(i64) as BigInt
);

impl PaymentId {
    /// A fresh id; v7 keeps inserts index-friendly (time ordered).
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for PaymentId {
    fn default() -> Self {
        Self::new()
    }
}

impl OrderId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for OrderId {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_uuid_does_not_parse_as_payment_id() {
        assert!("not-a-uuid".parse::<PaymentId>().is_err());
        let id = PaymentId::new();
        assert_eq!(id.to_string().parse::<PaymentId>().unwrap(), id);
    }
}
