//! DRF's page-number pagination: `?page=N&page_size=M`, answered as
//! `{"count","next","previous","results"}` with absolute links.

use crate::error::ApiError;
use crate::messages;
use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use domain::i18n::Lang;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const DEFAULT_PAGE_SIZE: i64 = 20;
pub const MAX_PAGE_SIZE: i64 = 100;

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub page: Option<String>,
    pub page_size: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub number: i64,
    pub size: i64,
}

impl Page {
    pub fn parse(query: &PageQuery, lang: Lang) -> Result<Self, ApiError> {
        let invalid = || ApiError::new(StatusCode::NOT_FOUND, messages::INVALID_PAGE, lang);
        let number = match query.page.as_deref() {
            None | Some("") => 1,
            Some("last") => i64::MAX,
            Some(raw) => raw
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(invalid)?,
        };
        let size = query
            .page_size
            .as_deref()
            .and_then(|s| s.parse::<i64>().ok())
            .filter(|s| *s >= 1)
            .map_or(DEFAULT_PAGE_SIZE, |s| s.min(MAX_PAGE_SIZE));
        Ok(Self { number, size })
    }

    /// Resolves `last` against the count; a page past the end is a 404
    /// (except page 1 of an empty list).
    pub fn resolve(self, count: i64, lang: Lang) -> Result<Self, ApiError> {
        let pages = ((count + self.size - 1) / self.size).max(1);
        let number = if self.number == i64::MAX {
            pages
        } else {
            self.number
        };
        if number > pages {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                messages::INVALID_PAGE,
                lang,
            ));
        }
        Ok(Self {
            number,
            size: self.size,
        })
    }

    pub fn offset(self) -> i64 {
        (self.number - 1).saturating_mul(self.size)
    }
}

/// Scheme and host of the absolute links. `Forwarded` / `X-Forwarded-*`
/// are the proxy's word only with `TRUST_FORWARDED_FOR` (as Django needs
/// `USE_X_FORWARDED_HOST`): anyone else could make the links point at
/// another site for a cache to keep.
fn origin(req: &HttpRequest) -> String {
    let trusted = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .is_some_and(|state| state.settings.trust_forwarded_for);
    if trusted {
        let info = req.connection_info();
        return format!("{}://{}", info.scheme(), info.host());
    }
    let config = req.app_config();
    let host = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_else(|| config.host());
    let scheme = if config.secure() { "https" } else { "http" };
    format!("{scheme}://{host}")
}

fn link(req: &HttpRequest, page: i64) -> String {
    let mut pairs: Vec<(String, String)> = url_pairs(req.query_string())
        .into_iter()
        .filter(|(k, _)| k != "page")
        .collect();
    if page > 1 {
        pairs.push(("page".into(), page.to_string()));
    }
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let base = format!("{}{}", origin(req), req.path());
    if query.is_empty() {
        base
    } else {
        format!("{base}?{query}")
    }
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect()
}

/// A page of a list, as DRF's `PageNumberPagination` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paginated<T> {
    pub count: i64,
    /// Absolute URL of the next page, if any.
    pub next: Option<String>,
    /// Absolute URL of the previous page, if any.
    pub previous: Option<String>,
    pub results: Vec<T>,
}

/// The paginated body.
pub fn paginated<T>(req: &HttpRequest, page: Page, count: i64, results: Vec<T>) -> Paginated<T> {
    let has_next = page.offset() + page.size < count;
    Paginated {
        count,
        next: has_next.then(|| link(req, page.number + 1)),
        previous: (page.number > 1).then(|| link(req, page.number - 1)),
        results,
    }
}
