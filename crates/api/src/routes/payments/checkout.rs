//! `POST /api/payments/checkout/` (SPEC §5.1): amounts computed here on
//! the server; honours `Idempotency-Key`.

use super::checkout_input::parse;
use crate::auth::Authenticated;
use crate::body::json_object;
use crate::error::{ApiError, OrApi};
use crate::idempotency::{Reply, key_of, request_hash, run_once};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::services::{CheckoutRequest, CheckoutSettings, checkout};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A created checkout: where to send the customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutBody {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    #[schema(example = "cs_test_a1b2")]
    pub session_id: Option<String>,
    /// The Stripe-hosted payment page.
    pub checkout_url: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Computed on the server.
    #[schema(example = "100.00")]
    pub amount: String,
    #[schema(example = "USD")]
    pub currency: String,
}

fn settings(state: &AppState) -> CheckoutSettings {
    let frontend = &state.settings.frontend_url;
    CheckoutSettings {
        // The domain keeps it a minute inside Stripe's bounds.
        session_ttl: state.settings.checkout_session_ttl,
        success_url: format!("{frontend}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}"),
        cancel_url: format!("{frontend}/checkout/cancel"),
    }
}

#[utoipa::path(post, path = "/api/payments/checkout/", tag = "payments",
    request_body(content = String, description = "{items: [{product_id, quantity}], coupon_code?}", content_type = "application/json"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the saved response for the same key and body")),
    responses((status = 201, description = "Order, payment and Stripe session created", body = CheckoutBody),
              (status = 400, description = "Invalid items, unknown product or coupon"),
              (status = 409, description = "Insufficient stock"),
              (status = 422, description = "Idempotency key reused with another body")))]
pub async fn post_checkout(
    req: HttpRequest,
    auth: Authenticated,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let lang = auth.lang;
    let key = key_of(&req, lang)?;
    let (items, coupon_code) = parse(&json_object(&body, false, lang)?, lang)?;
    let request = CheckoutRequest {
        user_id: auth.user.id,
        customer_email: Some(auth.user.email.clone()),
        items,
        coupon_code,
    };
    let hash = request_hash(&req, &body);
    run_once(&state.claims, auth.user.id, key, hash, lang, async || {
        let mut conn = state.pool.get().await.or_api(lang)?;
        let payment = checkout(
            &mut conn,
            state.gateway.as_ref(),
            &settings(&state),
            &request,
        )
        .await
        .or_api(lang)?;
        let body = CheckoutBody {
            payment_id: payment.id.0,
            order_id: payment.order_id.0,
            session_id: payment.stripe_session_id.clone(),
            checkout_url: payment.stripe_checkout_url.clone(),
            expires_at: payment.expires_at,
            amount: payment.amount().amount_string(),
            currency: payment.currency.as_str().to_owned(),
        };
        Ok(Reply::json(StatusCode::CREATED, &body))
    })
    .await
}
