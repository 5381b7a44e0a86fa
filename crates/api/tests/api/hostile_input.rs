//! Hostile input (issue 8, item 3): oversized and chunked bodies, deeply
//! nested JSON, invalid UTF-8, huge headers, wrong content types and
//! absurd query strings get a 4xx — with a JSON `{"detail": ...}` (or
//! per-field errors) wherever the app writes the answer — and never a 5xx
//! or a dead server. Requests go over a raw TCP socket so that nothing
//! (not even the HTTP client) cleans them up first.

use crate::helpers::{TestApp, WEBHOOK_SECRET, now, spawn_app};
use crate::security::{Operation, operations};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Operations that take a body but do not parse it: cancel hashes it for
/// `Idempotency-Key` only (documented as "Empty (or any JSON)").
const BODY_NOT_PARSED: [&str; 1] = ["/api/payments/{id}/cancel/"];

/// The operation reads its body as JSON (so malformed JSON is a 400).
fn parses_json(op: &Operation) -> bool {
    !op.spec["requestBody"].is_null() && !BODY_NOT_PARSED.contains(&op.path.as_str())
}

const CSRF: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct Answer {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A refusal the app wrote: 4xx, JSON, `detail` or field errors.
    fn assert_refused_with_json(&self, what: &str) {
        assert!(
            (400..500).contains(&self.status),
            "{what}: {} {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        assert!(
            self.headers
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{what}: {}",
            self.headers
        );
        let body = self.json().unwrap_or(Value::Null);
        let explained = body["detail"].is_string()
            || body
                .as_object()
                .is_some_and(|fields| !fields.is_empty() && fields.values().all(Value::is_array));
        assert!(explained, "{what}: {body}");
    }

    fn assert_not_5xx(&self, what: &str) {
        assert!(
            self.status < 500,
            "{what}: {} {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        if self.status >= 400 && !self.body.is_empty() {
            self.assert_refused_with_json(what);
        }
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&body[start..(start + size).min(body.len())]);
        body = &body[(start + size + 2).min(body.len())..];
    }
    out
}

/// A whole HTTP answer: head, and a body of its `Content-Length` or up to
/// the last chunk.
fn complete(answer: &[u8]) -> bool {
    let Some(split) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    let body = &answer[split + 4..];
    if head.contains("transfer-encoding: chunked") {
        return body.ends_with(b"0\r\n\r\n");
    }
    head.lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .is_some_and(|n| body.len() >= n)
}

/// Sends `head` (request line and headers, without the blank line) and
/// `body` as they are, while reading the answer (the server may answer —
/// 413, 431 — and close before it has read everything).
async fn raw(app: &TestApp, head: &[u8], body: &[u8]) -> Answer {
    let address = app.address.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let mut request = head.to_vec();
    request.extend_from_slice(b"\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    request.extend_from_slice(body);
    let sending = tokio::spawn(async move {
        let _ = writer.write_all(&request).await;
        writer
    });
    let mut answer = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let reading = async {
        // Until the answer is complete, or the server closes (or resets)
        // the connection. (A server that answered without reading the
        // body may keep the connection until the body is drained.)
        while let Ok(n @ 1..) = reader.read(&mut buffer).await {
            answer.extend_from_slice(&buffer[..n]);
            if complete(&answer) {
                break;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), reading)
        .await
        .expect("the server answers in time");
    sending.abort();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(&answer)));
    let headers = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = headers
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let mut body = answer[split + 4..].to_vec();
    if headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

/// A staff user's token and a payment of theirs; staff so that every
/// route gets as far as reading its input.
async fn staff_setup(app: &TestApp) -> (String, String) {
    let boss = app.create_user("boss@example.com", true).await;
    let key = format!("tok_{}", uuid::Uuid::new_v4().simple());
    domain::models::user::insert_api_token(&mut *app.db.conn().await, boss.id, &key)
        .await
        .expect("token");
    let caller = app.script(&boss).await;
    let id = app.paid_for_checkout(&caller, 1).await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (key, id)
}

/// Request line and headers for `op`: the token, and the CSRF pair that
/// login wants, plus `extra` header lines.
fn head(op: &Operation, path: &str, token: &str, extra: &[&[u8]]) -> Vec<u8> {
    let mut head = format!(
        "{} {path} HTTP/1.1\r\nCookie: csrftoken={CSRF}\r\nX-CSRFToken: {CSRF}",
        op.method
    )
    .into_bytes();
    if op.path != "/api/auth/login/" {
        head.extend_from_slice(format!("\r\nAuthorization: Token {token}").as_bytes());
    }
    for line in extra {
        head.extend_from_slice(b"\r\n");
        head.extend_from_slice(line);
    }
    head
}

async fn unsafe_ops(app: &TestApp) -> Vec<Operation> {
    let ops: Vec<Operation> = operations(app)
        .await
        .into_iter()
        .filter(Operation::is_unsafe)
        // Logout reads no body: there is nothing to feed it.
        .filter(|op| op.path != "/api/auth/logout/")
        .collect();
    assert!(ops.len() >= 6, "{ops:?}");
    ops
}

#[tokio::test]
async fn oversized_bodies_are_413_with_detail_whether_announced_or_chunked() {
    let app = spawn_app().await;
    let (token, id) = staff_setup(&app).await;
    // Past every limit, the webhook's 1 MiB included.
    let big = vec![b' '; 1024 * 1024 + 1];
    for op in unsafe_ops(&app).await {
        let path = op.url(&id);
        let length = format!("Content-Length: {}", big.len());
        let extra: [&[u8]; 2] = [b"Content-Type: application/json", length.as_bytes()];
        // Routes that read no body ignore it (without buffering it).
        let reads_body = !op.spec["requestBody"].is_null();
        let answer = raw(&app, &head(&op, &path, &token, &extra), &big).await;
        answer.assert_not_5xx(&op.name());
        if reads_body {
            assert_eq!(answer.status, 413, "{} announced", op.name());
            answer.assert_refused_with_json(&op.name());
        }

        let mut chunked = Vec::new();
        for chunk in big.chunks(64 * 1024) {
            chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            chunked.extend_from_slice(chunk);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        let extra: [&[u8]; 2] = [
            b"Content-Type: application/json",
            b"Transfer-Encoding: chunked",
        ];
        let answer = raw(&app, &head(&op, &path, &token, &extra), &chunked).await;
        answer.assert_not_5xx(&op.name());
        if reads_body {
            assert_eq!(answer.status, 413, "{} chunked", op.name());
            answer.assert_refused_with_json(&op.name());
        }
    }
    assert_eq!(app.get(&app.anonymous(), "/healthz").await.status(), 200);
}

/// Bodies a JSON reader must survive: deep nesting (arrays and objects,
/// under the size limits), invalid UTF-8 (bare and inside a string),
/// truncation, and JSON that is not an object.
fn hostile_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let depth = 5000;
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    let unclosed = "[".repeat(15_000);
    vec![
        ("nested arrays", arrays.into_bytes()),
        ("nested objects", objects.into_bytes()),
        ("unclosed nesting", unclosed.into_bytes()),
        ("invalid UTF-8", b"\xff\xfe\xfd{}".to_vec()),
        (
            "invalid UTF-8 in a string",
            b"{\"email\": \"a\xff@example.com\", \"password\": \"\xc3\x28\", \"items\": \"\xed\xa0\x80\"}"
                .to_vec(),
        ),
        ("a lone surrogate escape", br#"{"email": "\ud800", "password": "\udfff"}"#.to_vec()),
        ("truncated", b"{\"items\": [{\"product_id\": ".to_vec()),
        ("not an object", b"[1, 2, 3]".to_vec()),
        ("a huge number", format!("{{\"items\": [{{\"product_id\": 1{}, \"quantity\": 1e999}}]}}", "0".repeat(4000)).into_bytes()),
        ("a NUL byte", b"{\"email\": \"a\x00b\"}".to_vec()),
    ]
}

#[tokio::test]
async fn deep_invalid_and_malformed_json_bodies_are_400_with_detail() {
    let app = spawn_app().await;
    let (token, id) = staff_setup(&app).await;
    for op in unsafe_ops(&app).await {
        let path = op.url(&id);
        for (what, body) in hostile_bodies() {
            let length = format!("Content-Length: {}", body.len());
            let extra: [&[u8]; 2] = [b"Content-Type: application/json", length.as_bytes()];
            let answer = if op.path == "/api/payments/webhook/" {
                // Correctly signed, so the payload itself is what is judged.
                let signature = format!(
                    "Stripe-Signature: {}",
                    stripe_client::webhook::sign(&body, WEBHOOK_SECRET, now())
                );
                let extra: [&[u8]; 3] = [extra[0], extra[1], signature.as_bytes()];
                raw(&app, &head(&op, &path, &token, &extra), &body).await
            } else {
                raw(&app, &head(&op, &path, &token, &extra), &body).await
            };
            let name = format!("{} with {what}", op.name());
            // Routes that read no body may accept it; none may fail.
            answer.assert_not_5xx(&name);
            if parses_json(&op) {
                answer.assert_refused_with_json(&name);
            }
        }
    }
    let payments: i64 = diesel_async::RunQueryDsl::get_result(
        diesel::QueryDsl::count(domain::schema::payments::table),
        &mut *app.db.conn().await,
    )
    .await
    .expect("count");
    assert_eq!(payments, 1, "no hostile body made a checkout");
}

#[tokio::test]
async fn wrong_content_types_are_refused_with_detail() {
    let app = spawn_app().await;
    let (token, id) = staff_setup(&app).await;
    let login = operations(&app)
        .await
        .into_iter()
        .find(|op| op.path == "/api/auth/login/")
        .expect("login");
    let json = br#"{"email": "boss@example.com", "password": "x"}"#;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ] {
        let line = format!("Content-Type: {content_type}");
        let length = format!("Content-Length: {}", json.len());
        let answer = raw(
            &app,
            &head(
                &login,
                "/api/auth/login/",
                &token,
                &[line.as_bytes(), length.as_bytes()],
            ),
            json,
        )
        .await;
        assert_eq!(answer.status, 415, "login as {content_type}");
        answer.assert_refused_with_json(content_type);
    }
    // A form post where JSON is expected is unreadable JSON.
    for op in unsafe_ops(&app).await {
        let form = b"items[0][product_id]=1&items[0][quantity]=1&email=a%40b.c";
        let length = format!("Content-Length: {}", form.len());
        let extra: [&[u8]; 2] = [
            b"Content-Type: application/x-www-form-urlencoded",
            length.as_bytes(),
        ];
        let answer = raw(&app, &head(&op, &op.url(&id), &token, &extra), form).await;
        answer.assert_not_5xx(&op.name());
        if parses_json(&op) {
            answer.assert_refused_with_json(&op.name());
        }
    }
}

#[tokio::test]
async fn huge_or_invalid_headers_never_crash_the_server() {
    let app = spawn_app().await;
    let (token, id) = staff_setup(&app).await;
    let path = format!("/api/payments/{id}/status/");
    let get = format!("GET {path} HTTP/1.1\r\nAuthorization: Token {token}");
    let huge = format!("X-Padding: {}", "a".repeat(256 * 1024));
    let answer = raw(&app, format!("{get}\r\n{huge}").as_bytes(), b"").await;
    assert!(
        (400..500).contains(&answer.status),
        "a 256 KiB header: {}",
        answer.status
    );
    let many: String = (0..300).map(|i| format!("\r\nX-H{i}: v")).collect();
    let answer = raw(&app, format!("{get}{many}").as_bytes(), b"").await;
    assert!(
        (400..500).contains(&answer.status),
        "300 headers: {}",
        answer.status
    );
    let cookie = format!("Cookie: sessionid={}", "f".repeat(60 * 1024));
    let answer = raw(
        &app,
        format!("GET /api/auth/me/ HTTP/1.1\r\n{cookie}").as_bytes(),
        b"",
    )
    .await;
    answer.assert_not_5xx("a 60 KiB cookie");

    // Header values with bytes that are not UTF-8 (obs-text), on the
    // headers the app reads itself.
    let bad: &[u8] = b"\xff\xfe\x80";
    for name in [
        "Authorization",
        "Accept-Language",
        "Idempotency-Key",
        "X-CSRFToken",
        "Origin",
        "Cookie",
        "Stripe-Signature",
        "X-Forwarded-For",
    ] {
        for method_path in [
            format!("GET {path}"),
            format!("POST /api/payments/{id}/sync_status/"),
            "POST /api/payments/checkout/".to_owned(),
            "POST /api/payments/webhook/".to_owned(),
            "POST /api/auth/login/".to_owned(),
        ] {
            let mut head = format!("{method_path} HTTP/1.1").into_bytes();
            if name != "Authorization" {
                head.extend_from_slice(format!("\r\nAuthorization: Token {token}").as_bytes());
            }
            head.extend_from_slice(format!("\r\n{name}: ").as_bytes());
            head.extend_from_slice(bad);
            head.extend_from_slice(b"\r\nContent-Type: application/json\r\nContent-Length: 2");
            let answer = raw(&app, &head, b"{}").await;
            answer.assert_not_5xx(&format!("{method_path} with a non-UTF-8 {name}"));
        }
    }
    assert_eq!(app.get(&app.anonymous(), "/healthz").await.status(), 200);
}

/// Query strings and path segments no client should send.
fn absurd_queries() -> Vec<String> {
    let long = "9".repeat(10_000);
    vec![
        "page=-1".into(),
        "page=0".into(),
        "page=99999999999999999999999999".into(),
        "page=9223372036854775807".into(),
        "page=last&page_size=-5".into(),
        "page=abc&page_size=1e9".into(),
        "page_size=9223372036854775807".into(),
        "page=1&page=2&page=x".into(),
        format!("page={long}"),
        format!("task_id={long}"),
        "task_id=%FF%FE".into(),
        "task_id=%00".into(),
        "payment_id=not-a-uuid".into(),
        "payment_id=%FF".into(),
        format!("user_email={}%40example.com", "a".repeat(5000)),
        "user_email=%40%40%40".into(),
        "=&&=&%&%%%".into(),
        "x[y][z]=1&a[]=2".into(),
        format!("{long}={long}"),
    ]
}

#[tokio::test]
async fn absurd_query_strings_and_ids_on_every_route_are_never_a_server_error() {
    let app = spawn_app().await;
    let (token, id) = staff_setup(&app).await;
    let long_id = "a".repeat(5000);
    let ids = [
        id.as_str(),
        "not-a-uuid",
        "%FF%FE",
        "%00",
        "..%2F..%2Fetc",
        long_id.as_str(),
        "00000000-0000-0000-0000-000000000000",
    ];
    let ops = operations(&app).await;
    for op in &ops {
        for raw_id in ids {
            for query in absurd_queries() {
                let path = format!("{}?{query}", op.url(raw_id));
                let extra: [&[u8]; 2] = [b"Content-Type: application/json", b"Content-Length: 2"];
                let answer = raw(&app, &head(op, &path, &token, &extra), b"{}").await;
                answer.assert_not_5xx(&format!("{} {path}", op.method));
            }
            if !op.path.contains("{id}") {
                break;
            }
        }
    }
    assert_eq!(app.get(&app.anonymous(), "/healthz").await.status(), 200);
}

/// PostgreSQL text and jsonb cannot hold NUL: input carrying one must be
/// refused before it reaches a query (it used to be a 500 on every one of
/// these).
#[tokio::test]
async fn nul_characters_are_refused_before_they_reach_postgresql() {
    let app = spawn_app().await;
    let (token, _) = staff_setup(&app).await;
    let script = |method: reqwest::Method, path: &str| {
        reqwest::Client::new()
            .request(method, format!("{}{path}", app.address))
            .header("Authorization", format!("Token {token}"))
    };
    let answer = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("JSON");
        (status, body)
    };

    let (status, body) = answer(
        script(
            reqwest::Method::GET,
            "/api/payments/task_status/?task_id=a%00b",
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 404, "task_id: {body}");
    let (status, body) = answer(
        script(
            reqwest::Method::GET,
            "/api/payments/test_cancellation/?user_email=a%00b%40example.com",
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "user_email: {body}");

    let checkout = serde_json::json!({
        "items": [{ "product_id": app.product.0, "quantity": 1 }],
        "coupon_code": "SAVE\u{0}10",
    });
    let (status, body) = answer(
        script(reqwest::Method::POST, "/api/payments/checkout/")
            .json(&checkout)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "coupon_code: {body}");
    assert!(body["coupon_code"].is_array(), "{body}");

    let caller = app.anonymous();
    app.get_csrf(&caller).await;
    let (status, body) = answer(
        app.post_json(
            &caller,
            "/api/auth/login/",
            &serde_json::json!({ "email": "boss\u{0}@example.com", "password": "x" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "login e-mail: {body}");
    assert!(body["email"].is_array(), "{body}");

    for event in [
        serde_json::json!({ "id": "evt_\u{0}", "type": "checkout.session.expired", "data": {} }),
        serde_json::json!({ "id": "evt_nul_deep", "type": "checkout.session.expired",
                            "data": { "object": { "metadata": { "note": "a\u{0}b" } } } }),
        serde_json::json!({ "id": "evt_nul_key", "type": "x", "data": { "\u{0}": 1 } }),
    ] {
        let (status, body) = answer(app.webhook(&event, WEBHOOK_SECRET, now()).await).await;
        assert_eq!(status, 400, "webhook {event}: {body}");
    }
    assert_eq!(app.get(&app.anonymous(), "/healthz").await.status(), 200);
}

/// A query string serde cannot read is a 400 that says so (it used to say
/// "JSON mal formado", found by schemathesis).
#[tokio::test]
async fn an_unreadable_query_string_is_a_400_naming_the_query() {
    let app = spawn_app().await;
    let (token, id) = staff_setup(&app).await;
    for path in [
        "/api/payments/?page_size=1&page_size=2".to_owned(),
        "/api/products/?page=1&page=2".to_owned(),
        format!("/api/payments/{id}/status/?refresh=1&refresh=2"),
        "/api/payments/task_status/?task_id=a&task_id=b".to_owned(),
    ] {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", app.address))
            .header("Authorization", format!("Token {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let body: Value = response.json().await.unwrap();
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with("Parámetros de consulta no válidos"),
            "{path}: {body}"
        );
    }
}
