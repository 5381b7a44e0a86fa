//! The access log (docs/operations.md): one line per request, in a span
//! that names the request (its id and path), so every line the request
//! causes can be tied back to it. Query strings stay out of the logs.

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

#[tokio::test]
async fn every_request_is_logged_once_in_a_span_naming_its_id_and_path() {
    let logs = capture_logs();
    let app = spawn_app().await;
    let user = app.create_user("reader@example.com", false).await;
    let caller = app.browser(&user).await;
    let unknown = Uuid::new_v4();
    let path = format!("/api/payments/{unknown}/status/");
    for _ in 0..2 {
        let answer = app.get(&caller, &format!("{path}?refresh=true")).await;
        assert_eq!(answer.status(), 404);
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
    assert_ne!(
        request_id(served[0]),
        request_id(served[1]),
        "each request has its own id"
    );
    assert!(
        !text.contains("refresh=true"),
        "query strings are not logged:\n{text}"
    );
}
