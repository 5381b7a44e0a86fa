//! Route table: Stripe's `/v1` API, the hosted checkout page, and the
//! `/_emulator` control endpoints.

pub mod charges;
pub mod control;
pub mod payment_intents;
pub mod refunds;
pub mod session_bulk;
pub mod sessions;

use crate::app::App;
use crate::checkout_page;
use crate::error::ApiError;
use actix_web::{HttpRequest, HttpResponse, web};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1")
            .route("/checkout/sessions", web::post().to(sessions::create))
            .route("/checkout/sessions", web::get().to(sessions::list))
            .route("/checkout/sessions/{id}", web::get().to(sessions::retrieve))
            .route(
                "/checkout/sessions/{id}/expire",
                web::post().to(sessions::expire),
            )
            .route(
                "/payment_intents/{id}",
                web::get().to(payment_intents::retrieve),
            )
            .route(
                "/payment_intents/{id}/cancel",
                web::post().to(payment_intents::cancel),
            )
            .route("/refunds", web::post().to(refunds::create))
            .route("/refunds/{id}", web::get().to(refunds::retrieve))
            .route("/charges/{id}", web::get().to(charges::retrieve))
            .default_service(web::to(unknown_api_route)),
    )
    .route("/pay/{id}", web::get().to(checkout_page::show))
    .route("/pay/{id}", web::post().to(checkout_page::submit))
    .configure(control::configure);
}

async fn unknown_api_route(
    app: web::Data<App>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (method, path) = (req.method().to_string(), req.path().to_owned());
    app.call(&req, &body, |_| Err(ApiError::no_route(&method, &path)))
        .await
}
