//! The hosted checkout page at a session's `url` (`/pay/{id}`): pay with a
//! test card that succeeds (4242 4242 4242 4242) or is declined
//! (4000 0000 0000 0002), or go back to the merchant's `cancel_url`.

use crate::app::App;
use crate::form;
use crate::state::{PayOutcome, Session, SessionStatus, State};
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

const SUCCEEDS: &str = "4242 4242 4242 4242";
const DECLINED: &str = "4000 0000 0000 0002";

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn money(amount: i64, currency: &str) -> String {
    format!(
        "{}.{:02} {}",
        amount / 100,
        (amount % 100).abs(),
        currency.to_uppercase()
    )
}

fn page(title: &str, body: &str) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         button{{display:block;width:100%;margin:.5rem 0;padding:.75rem;font-size:1rem}}\
         .error{{color:#b00020}} table{{width:100%}} td:last-child{{text-align:right}}</style></head>\
         <body><p><small>Stripe emulator — test mode</small></p><h1>{title}</h1>{body}</body></html>",
        title = escape(title)
    ))
}

/// The page of `session`; `message` is an alert about the last submission.
fn render(state: &State, session: &Session, message: Option<&str>) -> HttpResponse {
    let mut body = String::new();
    body.push_str("<table>");
    for line in &session.line_items {
        body.push_str(&format!(
            "<tr><td>{} × {}</td><td>{}</td></tr>",
            escape(&line.name),
            line.quantity,
            money(line.unit_amount * line.quantity, &session.currency)
        ));
    }
    body.push_str(&format!(
        "<tr><th>Total</th><td><strong>{}</strong></td></tr></table>",
        money(session.amount_total, &session.currency)
    ));
    if let Some(message) = message {
        body.push_str(&format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(message)
        ));
    }
    match (session.status, state.unpayable(session)) {
        (SessionStatus::Open, None) => {
            for (card, label) in [
                (SUCCEEDS, "Pay with card"),
                (DECLINED, "Pay with declined card"),
            ] {
                body.push_str(&format!(
                    "<form method=\"post\"><input type=\"hidden\" name=\"card\" value=\"{card}\">\
                     <button type=\"submit\">{label} {card}</button></form>"
                ));
            }
            if let Some(cancel) = &session.cancel_url {
                body.push_str(&format!(
                    "<p><a href=\"{}\">← Back (cancel)</a></p>",
                    escape(cancel)
                ));
            }
        }
        (SessionStatus::Complete, _) => {
            body.push_str("<p>This Checkout Session has been paid.</p>");
        }
        (SessionStatus::Expired, _) => body.push_str("<p>This Checkout Session has expired.</p>"),
        // Open but not payable (e.g. its PaymentIntent was cancelled): say
        // why, unless the alert already does.
        (SessionStatus::Open, Some(refusal)) => {
            if message != Some(refusal.message.as_str()) {
                body.push_str(&format!("<p>{}</p>", escape(&refusal.message)));
            }
        }
    }
    page("Checkout", &body)
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/html; charset=utf-8")
        .body("<!doctype html><title>Not found</title><h1>No such Checkout Session</h1>")
}

pub async fn show(app: web::Data<App>, id: web::Path<String>) -> HttpResponse {
    let state = app.lock();
    match state.session(&id) {
        Ok(session) => render(&state, session, None),
        Err(_) => not_found(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PayForm {
    card: Option<String>,
}

pub async fn submit(app: web::Data<App>, id: web::Path<String>, body: web::Bytes) -> HttpResponse {
    let card = form::parse::<PayForm>(&body)
        .ok()
        .and_then(|f| f.card)
        .unwrap_or_default();
    let Some(outcome) = PayOutcome::from_card(&card) else {
        let state = app.lock();
        return match state.session(&id) {
            Ok(session) => render(&state, session, Some("Use one of the test cards below.")),
            Err(_) => not_found(),
        };
    };
    let result = app.mutate(|state| state.pay_session(&id, outcome));
    let state = app.lock();
    let Ok(session) = state.session(&id) else {
        return not_found();
    };
    match result {
        Ok(_) if session.status == SessionStatus::Complete => match &session.success_url {
            Some(url) => HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    url.replace("{CHECKOUT_SESSION_ID}", &session.id),
                ))
                .finish(),
            None => render(&state, session, None),
        },
        Ok(_) => render(&state, session, Some("Your card was declined.")),
        Err(error) => render(&state, session, Some(&error.message)),
    }
}
