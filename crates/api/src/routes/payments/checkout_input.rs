//! The body of `POST /api/payments/checkout/`, read by hand so that each
//! bad field gets a DRF-style message: `{"items": ["Elemento 1: quantity: ..."]}`.

use crate::error::ApiError;
use crate::messages;
use domain::ProductId;
use domain::i18n::Lang;
use domain::services::CheckoutItem;
use domain::services::checkout::{MAX_LINES, MAX_QUANTITY};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

fn item(value: &Value, index: usize, lang: Lang) -> Result<CheckoutItem, String> {
    let prefix = lang.pick("Elemento", "Item");
    let product = value
        .get("product_id")
        .and_then(Value::as_i64)
        .filter(|id| *id > 0);
    let quantity = value.get("quantity").and_then(Value::as_i64);
    match (product, quantity) {
        (None, _) => Err(format!(
            "{prefix} {index}: product_id: {}",
            lang.pick(
                "debe ser un entero positivo.",
                "must be a positive integer."
            )
        )),
        (Some(product), Some(quantity)) if (1..=i64::from(MAX_QUANTITY)).contains(&quantity) => {
            Ok(CheckoutItem {
                product_id: ProductId(product),
                quantity: i32::try_from(quantity).unwrap_or(MAX_QUANTITY),
            })
        }
        (Some(_), _) => Err(format!(
            "{prefix} {index}: quantity: {}",
            messages::QUANTITY_RANGE.get(lang)
        )),
    }
}

pub fn parse(
    map: &Map<String, Value>,
    lang: Lang,
) -> Result<(Vec<CheckoutItem>, Option<String>), ApiError> {
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let items = match map.get("items") {
        None | Some(Value::Null) => {
            errors.insert(
                "items".into(),
                vec![messages::FIELD_REQUIRED.get(lang).into()],
            );
            Vec::new()
        }
        Some(Value::Array(list)) if list.is_empty() => {
            errors.insert("items".into(), vec![messages::ITEMS_EMPTY.get(lang).into()]);
            Vec::new()
        }
        Some(Value::Array(list)) if list.len() > MAX_LINES => {
            errors.insert(
                "items".into(),
                vec![messages::TOO_MANY_LINES.get(lang).into()],
            );
            Vec::new()
        }
        Some(Value::Array(list)) => {
            let (ok, bad): (Vec<_>, Vec<_>) = list
                .iter()
                .enumerate()
                .map(|(i, v)| item(v, i + 1, lang))
                .partition(Result::is_ok);
            if !bad.is_empty() {
                errors.insert(
                    "items".into(),
                    bad.into_iter().filter_map(Result::err).collect(),
                );
            }
            ok.into_iter().filter_map(Result::ok).collect()
        }
        Some(_) => {
            errors.insert(
                "items".into(),
                vec![
                    lang.pick("Se esperaba una lista.", "Expected a list.")
                        .into(),
                ],
            );
            Vec::new()
        }
    };
    let coupon = match map.get("coupon_code") {
        None | Some(Value::Null) => None,
        Some(Value::String(code)) if code.trim().is_empty() => None,
        // NUL cannot be stored or looked up in PostgreSQL text.
        Some(Value::String(code)) if code.len() <= 64 && !code.contains('\0') => {
            Some(code.trim().to_owned())
        }
        Some(_) => {
            errors.insert(
                "coupon_code".into(),
                vec![messages::INVALID_COUPON.get(lang).into()],
            );
            None
        }
    };
    if errors.is_empty() {
        Ok((items, coupon))
    } else {
        Err(ApiError::Validation(errors))
    }
}
