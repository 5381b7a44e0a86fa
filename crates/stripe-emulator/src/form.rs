//! Stripe's form encoding: `line_items[0][price_data][currency]=usd`,
//! `metadata[payment_id]=...`, `expand[0]=payment_intent`, for bodies and
//! query strings alike. Clients differ in whether they percent-encode the
//! brackets (Python's `urlencode` does, async-stripe's serde_qs does not);
//! both are accepted.

use crate::error::ApiError;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// Parses `input` into `T`, turning any failure into Stripe's 400.
pub fn parse<T: DeserializeOwned>(input: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(input)
        .map_err(|_| ApiError::invalid_parameters("The request body is not valid UTF-8."))?;
    let normalised = decode_key_brackets(text);
    serde_qs::Config::new()
        .max_depth(6)
        .use_form_encoding(true)
        .deserialize_str(&normalised)
        .map_err(|e| ApiError::invalid_parameters(format!("Invalid request parameters: {e}")))
}

/// Turns `%5B`/`%5D` back into brackets inside keys (never inside values).
fn decode_key_brackets(input: &str) -> String {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = key
                .replace("%5B", "[")
                .replace("%5b", "[")
                .replace("%5D", "]")
                .replace("%5d", "]");
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[derive(Debug, Default, Deserialize)]
pub struct ExpandForm {
    #[serde(default)]
    pub expand: Vec<String>,
}

impl ExpandForm {
    pub fn wants(&self, field: &str) -> bool {
        self.expand.iter().any(|e| e == field)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CreateSessionForm {
    pub mode: Option<String>,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
    pub expires_at: Option<i64>,
    pub client_reference_id: Option<String>,
    pub customer_email: Option<String>,
    pub currency: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub line_items: Vec<LineItemForm>,
    pub payment_intent_data: Option<PaymentIntentDataForm>,
    #[serde(default)]
    pub expand: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct LineItemForm {
    pub price: Option<String>,
    pub price_data: Option<PriceDataForm>,
    pub quantity: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PriceDataForm {
    pub currency: Option<String>,
    pub unit_amount: Option<i64>,
    pub product_data: Option<ProductDataForm>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ProductDataForm {
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PaymentIntentDataForm {
    #[serde(default)]
    pub metadata: HashMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListSessionsQuery {
    pub status: Option<String>,
    pub created: Option<RangeForm>,
    pub limit: Option<i64>,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub expand: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RangeForm {
    pub gt: Option<i64>,
    pub gte: Option<i64>,
    pub lt: Option<i64>,
    pub lte: Option<i64>,
}

impl RangeForm {
    pub fn contains(&self, value: i64) -> bool {
        self.gt.is_none_or(|b| value > b)
            && self.gte.is_none_or(|b| value >= b)
            && self.lt.is_none_or(|b| value < b)
            && self.lte.is_none_or(|b| value <= b)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CreateRefundForm {
    pub payment_intent: Option<String>,
    pub charge: Option<String>,
    pub amount: Option<i64>,
    pub reason: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CancelIntentForm {
    pub cancellation_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracket_notation_nests_with_or_without_percent_encoding() {
        let raw = "mode=payment&line_items[0][price_data][currency]=usd\
                   &line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=1250\
                   &line_items[0][price_data][product_data][name]=T-shirt%20%5Bblue%5D\
                   &line_items[0][quantity]=2&metadata[payment_id]=p1\
                   &payment_intent_data[metadata][order_id]=o1&expires_at=1700000000";
        let form: CreateSessionForm = parse(raw.as_bytes()).unwrap();
        assert_eq!(form.mode.as_deref(), Some("payment"));
        let item = &form.line_items[0];
        let price = item.price_data.as_ref().unwrap();
        assert_eq!(price.currency.as_deref(), Some("usd"));
        assert_eq!(price.unit_amount, Some(1250));
        assert_eq!(
            price.product_data.as_ref().unwrap().name.as_deref(),
            Some("T-shirt [blue]")
        );
        assert_eq!(item.quantity, Some(2));
        assert_eq!(form.metadata["payment_id"], "p1");
        assert_eq!(form.payment_intent_data.unwrap().metadata["order_id"], "o1");
        assert_eq!(form.expires_at, Some(1_700_000_000));
    }

    #[test]
    fn list_query_reads_ranges_and_expand() {
        let q: ListSessionsQuery =
            parse(b"status=expired&created%5Bgte%5D=10&limit=3&expand[0]=data.payment_intent")
                .unwrap();
        assert_eq!(q.status.as_deref(), Some("expired"));
        let created = q.created.unwrap();
        assert!(created.contains(10) && !created.contains(9));
        assert_eq!(q.limit, Some(3));
        assert_eq!(q.expand, vec!["data.payment_intent"]);
    }

    #[test]
    fn an_empty_body_is_an_empty_form() {
        let form: CreateRefundForm = parse(b"").unwrap();
        assert!(form.payment_intent.is_none());
    }
}
