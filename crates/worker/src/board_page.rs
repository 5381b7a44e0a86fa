//! The HTML of `/ops`: a plain page that refreshes itself.

use crate::board::Overview;
use std::fmt::Write;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "—".to_owned(), |v| esc(&v.to_string()))
}

pub fn render(o: &Overview) -> String {
    let mut h = String::from(
        "<!doctype html><html><head><meta charset=utf-8><meta http-equiv=refresh content=5>\
         <title>payments worker</title><style>body{font-family:sans-serif;margin:2em}\
         table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ccc;padding:4px 8px;\
         text-align:left}.FAILURE,.bad{color:#b00}.SUCCESS,.ok{color:#070}.RETRY{color:#a60}</style>\
         </head><body><h1>payments worker</h1><p><a href=\"/\">apalis-board</a> · \
         <a href=\"/ops/api/overview\">JSON</a> · <a href=\"/metrics\">metrics</a></p>",
    );
    if let Some(e) = &o.database_error {
        let _ = write!(
            h,
            "<p class=bad>PostgreSQL unavailable: {}. The sweep chain and the recent tasks \
             cannot be read; the queues below come from Redis.</p>",
            esc(e)
        );
    }
    h.push_str("<h2>Sweep chain</h2>");
    match &o.chain {
        Some(c) => {
            let health = serde_json::to_value(c.health)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let class = if health == "healthy" { "ok" } else { "bad" };
            let _ = write!(
                h,
                "<table><tr><th>health</th><td class={class}>{}</td></tr>\
                 <tr><th>current link</th><td>{}</td></tr><tr><th>link status</th><td>{}</td></tr>\
                 <tr><th>next run</th><td>{}</td></tr><tr><th>last outcome</th><td>{}</td></tr>\
                 <tr><th>last run finished</th><td>{} s ago</td></tr></table>",
                esc(&health),
                opt(c.task_id.as_deref()),
                opt(c.link_status.as_deref()),
                opt(c.next_run_at),
                opt(c.last_outcome.as_deref()),
                opt(c.heartbeat_age_secs),
            );
        }
        None => h.push_str("<p class=bad>unknown (Redis or PostgreSQL unavailable)</p>"),
    }
    h.push_str(
        "<h2>Queues</h2><table><tr><th>queue</th><th>active</th><th>scheduled</th>\
         <th>in flight</th><th>done</th><th>dead</th></tr>",
    );
    for q in &o.queues {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&q.queue),
            q.active,
            q.scheduled,
            q.inflight,
            q.done,
            q.dead
        );
    }
    h.push_str("</table><h2>Workers</h2><table><tr><th>queue</th><th>name</th><th>last heartbeat</th><th>alive</th></tr>");
    for w in &o.workers {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{} s ago</td><td class={}>{}</td></tr>",
            esc(&w.queue),
            esc(&w.name),
            w.last_heartbeat_secs_ago,
            if w.alive { "ok" } else { "bad" },
            w.alive
        );
    }
    h.push_str(
        "</table><h2>Recent tasks</h2><table><tr><th>id</th><th>job</th><th>state</th>\
         <th>attempts</th><th>updated</th><th>error</th></tr>",
    );
    for t in &o.recent_tasks {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class={}>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&t.id),
            esc(&t.job_name),
            esc(&t.state),
            esc(&t.state),
            t.attempts,
            esc(&t.updated_at.to_string()),
            opt(t.error.as_deref())
        );
    }
    h.push_str("</table></body></html>");
    h
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn html_is_escaped() {
        assert_eq!(esc("<b a='x'>&"), "&lt;b a=&#39;x&#39;&gt;&amp;");
    }
}
