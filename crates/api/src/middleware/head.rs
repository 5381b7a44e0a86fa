//! `HEAD` is answered wherever `GET` is, as Django does (uptime checks and
//! load balancers probe with it): the request is routed as a `GET`. The
//! HTTP/1 codec already knows the request was a `HEAD` — it decoded it — so
//! it sends the `GET` answer's status and headers without its body.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    next.call(req).await
}
