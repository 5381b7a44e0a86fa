//! The demo storefront and operator page under `/demo/` (development only;
//! see docs/demo.md). Its files (`crates/api/demo/`) are compiled into the
//! binary, so a release build serves them with nothing on disk.
//!
//! The page is also the checkout's landing page: with
//! `FRONTEND_URL=http://<api>/demo`, Stripe sends the customer back to
//! `/demo/checkout/success` or `/demo/checkout/cancel`, which serve the same
//! page (its script tells the two apart by the path).

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, get};
use actix_web::{HttpResponse, HttpResponseBuilder};

/// Where the page lives; the index links its assets with this prefix.
pub const PREFIX: &str = "/demo";

const INDEX: &str = include_str!("../../demo/index.html");

/// One embedded file of the page.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// An embedded file of `crates/api/demo/`, by its name there.
macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_str!(concat!("../../demo/", $name)),
        }
    };
}

const ASSETS: [Asset; 5] = [
    asset!("app.js", JAVASCRIPT),
    asset!("api.js", JAVASCRIPT),
    asset!("dom.js", JAVASCRIPT),
    asset!("operator.js", JAVASCRIPT),
    asset!("style.css", "text/css; charset=utf-8"),
];

/// Scripts and styles only from this origin (the page builds its DOM
/// without `innerHTML`); `fetch` may go to another origin because the API
/// base can be set with `?api=`.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self' http: https:; base-uri 'none'; form-action 'self'; \
                   frame-ancestors 'none'";

/// The routes, registered by `startup` only when `APP_ENV=development`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PREFIX, get().to(to_index))
        .route("/demo/", get().to(index))
        .route("/demo/index.html", get().to(index))
        .route("/demo/checkout/success", get().to(index))
        .route("/demo/checkout/cancel", get().to(index))
        .route("/demo/{file}", get().to(asset));
}

fn ok(content_type: &'static str) -> HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
        // Edited files show up at the next load of a development server.
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    response
}

/// `/demo` → `/demo/`, so that the page's relative world starts at the slash.
async fn to_index() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/demo/"))
        .finish()
}

async fn index() -> HttpResponse {
    ok("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .body(INDEX)
}

/// An embedded asset; any other name is the API's JSON 404.
async fn asset(file: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|a| a.name == file.as_str()) {
        Some(asset) => ok(asset.content_type).body(asset.body),
        None => HttpResponse::NotFound().finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The module names after `from "./` in a script.
    fn imports(script: &str) -> impl Iterator<Item = &str> {
        script
            .split("from \"./")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
    }

    #[test]
    fn every_module_a_script_imports_is_embedded() {
        for asset in &ASSETS {
            for module in imports(asset.body) {
                assert!(
                    ASSETS.iter().any(|a| a.name == module),
                    "{} imports ./{module}, which is not embedded",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn every_embedded_file_is_linked_or_imported() {
        for asset in &ASSETS {
            let linked = INDEX.contains(&format!("\"{PREFIX}/{}\"", asset.name));
            let imported = ASSETS
                .iter()
                .any(|a| imports(a.body).any(|m| m == asset.name));
            assert!(
                linked || imported,
                "{} is embedded but never used",
                asset.name
            );
        }
    }
}
