//! The access log (docs/operations.md): one line per request, in a span
//! that names the request (its id and path), so every line the request
//! causes can be tied back to it, and the caller gets the id in the
//! `X-Request-Id` header. Query strings stay out of the logs.

use crate::helpers::{Captured, spawn_app};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use uuid::Uuid;

/// The text format the API's `LOG_FORMAT=text` writes, captured, with the
/// filter docs/operations.md suggests to keep only the service's own lines.
fn capture_logs() -> Captured {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("warn,payments=info"))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || writer.clone()),
        )
        .try_init()
        .expect("this test installs the process's tracing subscriber (unset TEST_LOG)");
    logs
}

/// The request id in `line`'s span, `request{request_id=… path=…}`.
fn request_id(line: &str) -> Uuid {
    let start = line.find("request_id=").expect("a request id") + "request_id=".len();
    line[start..start + 36].parse().expect("a UUID")
}

fn header_id(answer: &reqwest::Response) -> Uuid {
    answer
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("an X-Request-Id header holding a UUID")
}

#[tokio::test]
async fn every_request_is_logged_once_in_a_span_naming_its_id_and_path() {
    let logs = capture_logs();
    let app = spawn_app().await;
    let user = app.create_user("reader@example.com", false).await;
    let caller = app.browser(&user).await;
    let unknown = Uuid::new_v4();
    let path = format!("/api/payments/{unknown}/status/");
    let mut answered_ids = Vec::new();
    for _ in 0..2 {
        let answer = app.get(&caller, &format!("{path}?refresh=true")).await;
        assert_eq!(answer.status(), 404);
        answered_ids.push(header_id(&answer));
    }

    let text = logs.text();
    let served: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("request served") && line.contains(&path))
        .collect();
    assert_eq!(served.len(), 2, "one access line per request:\n{text}");
    for line in &served {
        assert!(line.contains(&format!("path={path}")), "{line}");
        assert!(line.contains("method=GET"), "{line}");
        assert!(line.contains("route=/api/payments/{id}/status/"), "{line}");
        assert!(line.contains("status=404"), "{line}");
    }
    let logged_ids: Vec<Uuid> = served.iter().map(|line| request_id(line)).collect();
    assert_eq!(logged_ids, answered_ids, "the caller gets the logged id");
    assert_ne!(logged_ids[0], logged_ids[1], "each request has its own id");
    assert!(
        !text.contains("refresh=true"),
        "query strings are not logged:\n{text}"
    );
}

#[tokio::test]
async fn a_browser_on_an_allowed_origin_may_read_the_request_id_a_replay_mark_and_retry_after() {
    let app = spawn_app().await;
    let answer = reqwest::Client::new()
        .get(format!("{}/api/products/", app.address))
        .header("Origin", "http://frontend.test")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    header_id(&answer);
    let exposed = answer
        .headers()
        .get("access-control-expose-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    for header in ["x-request-id", "idempotent-replayed", "retry-after"] {
        assert!(exposed.contains(header), "{header} in exposed: {exposed:?}");
    }
}
